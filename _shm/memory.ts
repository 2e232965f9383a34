// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Where every primitive's shared state lives: the one allocation helper.
//
// By default a primitive's words are a `SharedArrayBuffer`, which every
// Worker of the process maps and no other OS process can. Where this
// process may use FFI on libc (see ffi/), they are carved from shared
// segments (ffi/segment.ts) instead: Workers map the same address, and a
// subprocess child maps the same segment through its parent's
// `/proc/<pid>/fd/<fd>`, so that a child operates the primitive itself, in
// shared memory, rather than through its parent's agent (the proxy).
// `MP_SHARED_MEMORY=proxy` in the environment keeps the default.
//
// Such memory is a plain `ArrayBuffer` to JavaScript: `Atomics` works on it
// across processes, `Atomics.wait` does not (futex.ts waits through the
// kernel for it). A primitive's memory goes back when its buffer is garbage
// and its form never left the thread that made it (a FinalizationRegistry:
// arena slices are reused, a segment of its own is unmapped). Memory whose
// form was sent to a Worker or another process stays while this process
// runs: no count across processes tells when the last handle is gone.
//
// Across processes a buffer travels as its {@linkcode MemoryForm}: the
// `SharedArrayBuffer` itself, or where in which segment it lies. A form
// that goes to another OS process also carries the process table's (see
// registry.ts), which the receiver joins, so that every process of the
// tree agrees on who is alive.
import { ffiSupport } from "./ffi/self_check.ts";
import { Segment } from "./ffi/segment.ts";
import { libc, madviseCall, malloptCall } from "./ffi/libc.ts";
import type { Exporter, Shareable } from "../_wire.ts";

/** Shared memory, as primitives hold it. */
export type Memory = SharedArrayBuffer | ArrayBuffer;

/** Where a buffer lies in a segment, as another process finds it. */
export interface SegmentSlice {
  /** The segment's identity, the same in every process. */
  token: string;
  /** Where the process that sent this opens the segment. */
  locator: string;
  /** That process's pid, and where the segment is mapped there. */
  pid: number;
  address: string;
  offset: number;
  length: number;
  /** The process table's slice, for a receiver in another OS process. */
  tree?: SegmentSlice;
}

/** How a buffer crosses to another process. */
export type MemoryForm = SharedArrayBuffer | SegmentSlice;

/** A segment as this process maps it. */
interface Mapping {
  token: string;
  locator: string;
  address: bigint;
}

/**
 * A slice that `allocate` carved here, as long as it lives: it goes back
 * when its buffer is garbage, unless its form left this thread (then a
 * Worker or another OS process may hold it: it is kept while this process
 * runs).
 */
interface Carving {
  escaped: boolean;
  slot: Slot;
  offset: number;
  size: number;
}

/** A segment `allocate` carves from: the shared arena, or one of its own. */
interface Slot {
  segment: Segment;
  mapping: Mapping;
  used: number;
  own: boolean;
}

/** The slices handed out or mapped here, by their buffer. */
const slices = new WeakMap<
  ArrayBuffer,
  { mapping: Mapping; offset: number; carving?: Carving }
>();
/** The segments this process opened itself, by token. */
const attached = new Map<string, Mapping>();

const ARENA = 1 << 20;
const ALIGN = 64;
let arena: Slot | undefined;
/** Slices of arenas given back, by size, for the next allocations. */
const spare = new Map<number, { slot: Slot; offset: number }[]>();
/** Bytes of segments `allocate` has mapped now (a test looks). */
let mappedBytes = 0;

const reclaim = new FinalizationRegistry<Carving>(giveBackSlice);

function giveBackSlice(carving: Carving): void {
  if (carving.escaped) return;
  const { slot } = carving;
  if (slot.own) {
    // No view of it is left: its buffer was garbage, and no other thread
    // ever had its form.
    attached.delete(slot.mapping.token);
    mappedBytes -= slot.segment.size;
    slot.segment.unmap();
    return;
  }
  let list = spare.get(carving.size);
  if (!list) spare.set(carving.size, list = []);
  list.push({ slot, offset: carving.offset });
}

let mode: "ffi" | "proxy" | undefined;

/**
 * Whether primitives made here live in FFI segments, decided once: FFI
 * works (its self-test passed) and `MP_SHARED_MEMORY` is not `proxy`.
 */
export function usesSegments(): boolean {
  mode ??= forcedProxy() || !ffiSupport().ok ? "proxy" : "ffi";
  return mode === "ffi";
}

function forcedProxy(): boolean {
  return environmentSays("MP_SHARED_MEMORY", "proxy");
}

/** Whether `variable` is `value` in the environment (read only if granted). */
function environmentSays(variable: string, value: string): boolean {
  try {
    const env = Deno.permissions.querySync({ name: "env", variable });
    return env.state === "granted" && Deno.env.get(variable) === value;
  } catch {
    return false;
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * `bytes` of zeroed shared memory: from a segment where
 * {@linkcode usesSegments}, else a `SharedArrayBuffer`. Segment memory goes
 * back once its buffer is garbage, unless it was sent to another thread or
 * process (see {@linkcode memoryForm}).
 */
export function allocate(bytes: number): Memory {
  if (!usesSegments()) return new SharedArrayBuffer(bytes);
  const size = Math.ceil(Math.max(bytes, 8) / ALIGN) * ALIGN;
  const reused = spare.get(size)?.pop();
  if (reused) {
    new Uint8Array(reused.slot.segment.view(reused.offset, size)).fill(0);
    return handOut(reused.slot, reused.offset, size, bytes);
  }
  if (!arena || arena.used + size > arena.segment.size) {
    const segment = Segment.create(
      Math.max(ARENA, Math.ceil(size / 4096) * 4096),
      "multiprocessing",
    );
    mappedBytes += segment.size;
    const mapping = {
      token: randomToken(),
      locator: segment.locator,
      address: Deno.UnsafePointer.value(segment.base),
    };
    attached.set(mapping.token, mapping);
    // A big allocation gets a segment of its own; small ones share.
    const own = size > ARENA / 4;
    const slot = { segment, mapping, used: 0, own };
    if (!own) arena = slot;
    return carve(slot, size, bytes);
  }
  return carve(arena, size, bytes);
}

function carve(slot: Slot, size: number, bytes: number): ArrayBuffer {
  const offset = slot.used;
  slot.used += size;
  return handOut(slot, offset, size, bytes);
}

function handOut(
  slot: Slot,
  offset: number,
  size: number,
  bytes: number,
): ArrayBuffer {
  const buffer = slot.segment.view(offset, bytes);
  const carving = { escaped: false, slot, offset, size };
  slices.set(buffer, { mapping: slot.mapping, offset, carving });
  reclaim.register(buffer, carving);
  return buffer;
}

/** Bytes of segments that `allocate` has mapped in this process now. */
export function allocatedSegmentBytes(): number {
  return mappedBytes;
}

/** Whether `buffer` lies in a segment (and not in a `SharedArrayBuffer`). */
export function inSegment(buffer: ArrayBufferLike): boolean {
  return slices.has(buffer as ArrayBuffer);
}

/**
 * Thrown by {@linkcode memoryForm} for a `SharedArrayBuffer` bound for
 * another OS process: the caller exports the primitive another way.
 */
export const NOT_SHAREABLE: unique symbol = Symbol("not shareable");

// The classes whose every instance keeps its state in memory from
// `allocate` (and nested primitives of such classes), so that exporting one
// to another OS process may try its wire form: other primitives' wire
// forms can have effects (a Connection's marks it passed).
// deno-lint-ignore ban-types
const segmentClasses: Function[] = [];

/** Called once by each module whose primitives live in `allocate`'s memory. */
// deno-lint-ignore ban-types
export function registerSegmentClass(cls: Function): void {
  segmentClasses.push(cls);
}

/** Whether `value` is of a class given to {@linkcode registerSegmentClass}. */
export function isSegmentClass(value: object): boolean {
  return segmentClasses.some((cls) => value instanceof cls);
}

/** A primitive sent to another OS process in segment memory. */
export interface SharedExport {
  /** The primitive. */
  value: Shareable;
  /** The proxy exporter of the encoding it was sent in. */
  proxy: Exporter;
}

// The wire states that name segment memory for another OS process, by
// state: a receiver that turns out unable to map segments (a child whose
// permissions leave FFI out) gets each primitive re-exported through the
// proxy of the same encoding instead (_backend/subprocess/shm_export.ts).
const sharedExports = new WeakMap<object, SharedExport>();

/** Records that the wire state `state` sends `entry.value` in segment memory. */
export function noteSharedExport(state: object, entry: SharedExport): void {
  sharedExports.set(state, entry);
}

/** What {@linkcode noteSharedExport} recorded of `state`, if anything. */
export function sharedExportOf(state: unknown): SharedExport | undefined {
  return typeof state === "object" && state !== null
    ? sharedExports.get(state)
    : undefined;
}

/** What registry.ts lends this module: the table's slice, and joining one. */
export interface TreeHooks {
  form(): SegmentSlice | undefined;
  join(tree: SegmentSlice): void;
}

let treeHooks: TreeHooks | undefined;

/** Called once by registry.ts. */
export function setTreeHooks(hooks: TreeHooks): void {
  treeHooks = hooks;
}

/**
 * How `buffer` crosses to another process.
 *
 * @param otherProcess The receiver is another OS process.
 * @throws {typeof NOT_SHAREABLE} For a `SharedArrayBuffer` (or a tree not
 * in a segment) bound for another OS process.
 */
export function memoryForm(
  buffer: ArrayBufferLike,
  otherProcess = false,
): MemoryForm {
  const slice = slices.get(buffer as ArrayBuffer);
  if (!slice) {
    if (otherProcess || !(buffer instanceof SharedArrayBuffer)) {
      throw NOT_SHAREABLE;
    }
    return buffer;
  }
  // Another thread or process may hold it from now on.
  if (slice.carving) slice.carving.escaped = true;
  const form: SegmentSlice = {
    token: slice.mapping.token,
    locator: slice.mapping.locator,
    pid: Deno.pid,
    address: String(slice.mapping.address),
    offset: slice.offset,
    length: buffer.byteLength,
  };
  if (otherProcess) {
    const tree = treeHooks?.form();
    if (!tree) throw NOT_SHAREABLE;
    form.tree = tree;
  }
  return form;
}

/**
 * The buffer a {@linkcode MemoryForm} names, mapped here. A form from
 * another OS process joins its process table first.
 *
 * @throws {Error} When the segment cannot be mapped (no FFI here).
 */
export function memoryOf(form: MemoryForm): Memory {
  if (form instanceof SharedArrayBuffer) return form;
  let mapping: Mapping | undefined;
  let buffer: ArrayBuffer;
  if (form.pid === Deno.pid) {
    // This process maps it already (a Worker of the process that made it).
    mapping = {
      token: form.token,
      locator: form.locator,
      address: BigInt(form.address),
    };
    const pointer = Deno.UnsafePointer.create(
      mapping.address + BigInt(form.offset),
    );
    buffer = new Deno.UnsafePointerView(pointer!).getArrayBuffer(form.length);
  } else {
    if (form.tree) treeHooks?.join(form.tree);
    mapping = attached.get(form.token);
    if (!mapping) {
      // The self-test ran where the segment was made, on this machine.
      const support = libc();
      if (!support.ok) {
        throw new Error(
          `Cannot use a primitive in shared memory here: ${support.reason}; or set MP_SHARED_MEMORY=proxy in the parent`,
        );
      }
      const segment = Segment.attach(form.locator);
      mapping = {
        token: form.token,
        locator: segment.locator,
        address: Deno.UnsafePointer.value(segment.base),
      };
      attached.set(form.token, mapping);
    }
    const pointer = Deno.UnsafePointer.create(
      mapping.address + BigInt(form.offset),
    );
    buffer = new Deno.UnsafePointerView(pointer!).getArrayBuffer(form.length);
  }
  slices.set(buffer, { mapping, offset: form.offset });
  return buffer;
}

/** The huge page of x86_64 and aarch64 (with 4 KiB pages). */
const HUGE_PAGE = 2 * 1024 * 1024;
/** `madvise`'s advice to back memory with transparent huge pages. */
const MADV_HUGEPAGE = 14;

/**
 * Advises the system to back `bytes` with huge pages where it can (FFI granted, Linux; the system's transparent
 * huge pages set to `madvise` or `always`). Why: memory touched for the
 * first time costs a page fault per 4 KiB page, and in a virtual machine
 * one costs microseconds: 10 MiB of fresh memory took 30 ms to touch, in
 * 2 MiB pages 1 ms (a buffer's unaligned ends stay in small pages). The
 * buffer a large message is received into, and a ring grown for one, is
 * touched whole at once, so it gains, and loses nothing: only the whole
 * huge pages inside it are advised. Segment memory is shared memory, which the advice does not
 * reach; it is left alone.
 */
export function adviseHugePages(bytes: Uint8Array): void {
  if (bytes.byteLength < 2 * HUGE_PAGE || inSegment(bytes.buffer)) return;
  const madvise = madviseCall();
  if (!madvise) return;
  const base = BigInt(
    Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)),
  );
  const huge = BigInt(HUGE_PAGE);
  const start = (base + huge - 1n) / huge * huge;
  const end = (base + BigInt(bytes.byteLength)) / huge * huge;
  if (end <= start) return;
  madvise(Deno.UnsafePointer.create(start), end - start, MADV_HUGEPAGE);
}

/** `mallopt`'s parameters (glibc's malloc.h). */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/**
 * The largest allocation malloc then serves from its heaps, and the most
 * free memory at the top of a heap it keeps: the values glibc's own
 * adaptive thresholds reach at most (after a free of a 32 MiB block).
 */
const KEPT_ALLOCATION = 32 * 1024 * 1024;
const KEPT_FREE = 2 * KEPT_ALLOCATION;
let mallocTuned = false;

/**
 * Has glibc's malloc keep the memory of freed buffers for the next ones,
 * rather than give it back to the system at once; called by the first
 * receive of a message from 1 MiB up, once a process (where FFI is
 * granted, as with `-A`; `MP_MALLOC=default` in the environment leaves
 * malloc as it is). Why: every received message is new memory, which V8
 * frees only at its next garbage collection, dozens of messages later;
 * glibc then gave much of it back to the system (a block over its mmap
 * threshold unmapped, the free top of a heap over its trim threshold cut
 * off), so the next messages faulted fresh memory in, a page at a time,
 * microseconds a page in a virtual machine. It sets at once what glibc's
 * adaptive thresholds reach at most: buffers up to 32 MiB come from
 * malloc's heaps, and a heap keeps up to 64 MiB of free memory at its
 * top. Larger buffers are still mapped and unmapped each time.
 */
export function keepFreedMemory(): void {
  if (mallocTuned) return;
  mallocTuned = true;
  if (environmentSays("MP_MALLOC", "default")) return;
  const mallopt = malloptCall();
  if (!mallopt) return;
  mallopt(M_MMAP_THRESHOLD, KEPT_ALLOCATION);
  mallopt(M_TRIM_THRESHOLD, KEPT_FREE);
}
