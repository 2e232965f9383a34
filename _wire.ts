// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * The one way a primitive of this library crosses a process boundary.
 *
 * Values sent to another process (a child's `args`, a message on a
 * `Connection`, an item on a `Queue`) are walked once by {@linkcode encode}.
 * Every object that implements {@linkcode toWire} is replaced by a small
 * tagged record naming its kind and the module that can revive it; every
 * other value is left to the structured clone. On the other side
 * {@linkcode decode} imports the modules it needs and revives each record
 * into a working handle to the same object.
 *
 * @module
 */

import type { Backend } from "./process.ts";

/** Implemented by every primitive that can be passed to another process. */
export const toWire: unique symbol = Symbol("multiprocessing.toWire");

/** What a primitive turns into on the way out. */
export interface WireForm {
  /** The name under which the reviver was registered. */
  kind: string;
  /** The URL of the module that registers the reviver. */
  module: string;
  /** Structured-cloneable state the reviver receives. */
  state: unknown;
}

/** What an encoding collects besides the value itself. */
export interface WireContext {
  /** Where the value goes. */
  readonly backend: Backend;
  /** Objects to transfer rather than copy (`MessagePort`s). */
  readonly transfer: Transferable[];
  /** Every primitive that was encoded, so its sender can follow it. */
  readonly handles: Shareable[];
  /**
   * The pid of the child the value is passed to, when it is a child's start
   * (the pid {@linkcode ownerEnded} is later called with).
   */
  receiver?: number;
  /**
   * Set when the receiver cannot share this process's memory (a child that
   * is an OS process of its own): turns a primitive into the wire form of a
   * handle that works there, since a `SharedArrayBuffer` or a `MessagePort`
   * cannot cross into it. The primitive stays where it is and is operated
   * for the receiver there.
   */
  readonly exporter?: Exporter;
  /**
   * Set by a sender whose messages are received with `receiveMessageOnPort`,
   * which revives a typed array element by element (seconds for megabytes,
   * where an `ArrayBuffer` takes milliseconds): each typed array or
   * `DataView` over an `ArrayBuffer` is sent as a record of its buffer and
   * rebuilt by {@linkcode decode}. {@linkcode encode} adds their bytes to
   * `bytes`.
   */
  liftViews?: boolean;
  /** The bytes of the buffers met, when `liftViews` is set. */
  bytes?: number;
  /**
   * The `ArrayBuffer`s met (a typed array's buffer for a view), when
   * `liftViews` is set: a socket frame sends the large ones beside the
   * value, from where they are.
   */
  buffers?: ArrayBuffer[];
}

/**
 * Turns a primitive into the wire form of a handle to it that works in
 * another OS process.
 */
export type Exporter = (value: Shareable) => WireForm;

/**
 * Optionally implemented by a primitive that must act when a process it was
 * passed to ends, whichever way (a `Connection` tells its peer of the EOF, a
 * `Lock` frees itself from a dead owner). The process that passed the handle
 * calls it once that child has ended.
 */
export const ownerEnded: unique symbol = Symbol("multiprocessing.ownerEnded");

/**
 * Set to `true` by a handle whose own wire form works in another OS process
 * (the subprocess backend's proxies): it is sent as itself rather than
 * exported.
 */
export const crossesProcesses: unique symbol = Symbol(
  "multiprocessing.crossesProcesses",
);

/** A primitive that knows how to cross a process boundary. */
export interface Shareable {
  /** `true` when the wire form works in another OS process too. */
  readonly [crossesProcesses]?: boolean;
  /** Returns the state from which the other side revives this handle. */
  [toWire](ctx: WireContext): WireForm;
  /** Called in the sender when the process it was passed to has ended. */
  [ownerEnded]?(pid: number): void;
}

const MARK = "__multiprocessing_handle__";
const revivers = new Map<string, (state: unknown) => unknown>();

/**
 * Registers how to revive a kind of primitive. Each primitive's module calls
 * this once, at load time.
 */
export function registerKind(
  kind: string,
  revive: (state: unknown) => unknown,
): void {
  revivers.set(kind, revive);
}

const exporters = new Map<Backend, () => Exporter>();

/**
 * Registers how an encoding for the children of `backend`, which cannot
 * share this process's memory, exports primitives: `makeExporter` gives the
 * {@linkcode Exporter} of one encoding. The launcher registry calls it for
 * each backend whose launcher has one (see `_backend/launcher.ts`).
 */
export function registerExporter(
  backend: Backend,
  makeExporter: () => Exporter,
): void {
  exporters.set(backend, makeExporter);
}

/**
 * Makes a fresh context for one encoding: the one way to make one.
 *
 * @param backend Where the value goes (default: a thread or Worker that
 * shares this process's memory). A backend with a registered exporter gets
 * a fresh one.
 * @param exporter The exporter to use instead of the backend's, for a value
 * sent out of an OS process by code that exports primitives itself.
 */
export function wireContext(
  backend: Backend = "worker",
  exporter?: Exporter,
): WireContext {
  return {
    backend,
    transfer: [],
    handles: [],
    exporter: exporter ?? exporters.get(backend)?.(),
  };
}

function wireFormOf(value: Shareable, ctx: WireContext): WireForm {
  return ctx.exporter && !value[crossesProcesses]
    ? ctx.exporter(value)
    : value[toWire](ctx);
}

function isShareable(value: object): value is Shareable {
  return typeof (value as Partial<Shareable>)[toWire] === "function";
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns `value` with every primitive replaced by its wire form. Containers
 * are copied only where something inside them changed, so plain data costs
 * one walk and no copy.
 */
export function encode(value: unknown, ctx: WireContext): unknown {
  return encodeValue(value, ctx, new Map());
}

function encodeValue(
  value: unknown,
  ctx: WireContext,
  seen: Map<object, unknown>,
): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (isShareable(value)) {
    const form = wireFormOf(value, ctx);
    ctx.handles.push(value);
    const record = {
      [MARK]: form.kind,
      module: form.module,
      state: form.state,
    };
    seen.set(value, record);
    return record;
  }
  if (Array.isArray(value)) {
    seen.set(value, value);
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item !== "object" || item === null) continue;
      const encoded = encodeValue(item, ctx, seen);
      if (encoded !== item) {
        copy ??= value.slice();
        copy[i] = encoded;
      }
    }
    if (copy) seen.set(value, copy);
    return copy ?? value;
  }
  if (value instanceof Map) {
    seen.set(value, value);
    let changed = false;
    const entries = [...value].map(([k, v]) => {
      const ek = encodeValue(k, ctx, seen);
      const ev = encodeValue(v, ctx, seen);
      changed ||= ek !== k || ev !== v;
      return [ek, ev] as const;
    });
    const result = changed ? new Map(entries) : value;
    seen.set(value, result);
    return result;
  }
  if (value instanceof Set) {
    seen.set(value, value);
    let changed = false;
    const items = [...value].map((v) => {
      const ev = encodeValue(v, ctx, seen);
      changed ||= ev !== v;
      return ev;
    });
    const result = changed ? new Set(items) : value;
    seen.set(value, result);
    return result;
  }
  if (
    ctx.liftViews && (ArrayBuffer.isView(value) || value instanceof ArrayBuffer)
  ) {
    const lifted = liftView(value, ctx);
    seen.set(value, lifted);
    return lifted;
  }
  if (!isPlainObject(value)) return value;
  seen.set(value, value);
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== "object" || item === null) continue;
    const encoded = encodeValue(item, ctx, seen);
    if (encoded !== item) {
      copy ??= { ...value as Record<string, unknown> };
      copy[key] = encoded;
    }
  }
  if (copy) seen.set(value, copy);
  return copy ?? value;
}

const VIEW = "__multiprocessing_view__";

/**
 * The classes a lifted view revives as, by name: every typed array and
 * `DataView`. The ring's byte records (_shm/ring.ts) name the same classes.
 *
 * @ignore
 */
export const VIEW_CLASSES: Record<
  string,
  new (
    buffer: ArrayBuffer,
    byteOffset: number,
    length: number,
  ) => ArrayBufferView
> = {
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
};

type ViewRecord = {
  [VIEW]: string;
  buffer: ArrayBuffer;
  byteOffset: number;
  length: number;
};

/** A typed array as the record of its buffer (see `liftViews`). */
function liftView(
  value: ArrayBufferView | ArrayBuffer,
  ctx: WireContext,
): unknown {
  ctx.bytes = (ctx.bytes ?? 0) + value.byteLength;
  if (value instanceof ArrayBuffer) {
    (ctx.buffers ??= []).push(value);
    return value;
  }
  const name = value.constructor.name;
  if (
    !(value.buffer instanceof ArrayBuffer) ||
    VIEW_CLASSES[name] !== value.constructor
  ) {
    return value; // shared memory, or a class the clone keeps as is
  }
  (ctx.buffers ??= []).push(value.buffer);
  const record: ViewRecord = {
    [VIEW]: name,
    buffer: value.buffer,
    byteOffset: value.byteOffset,
    length: value instanceof DataView
      ? value.byteLength
      : (value as unknown as { length: number }).length,
  };
  return record;
}

function isViewRecord(value: object): value is ViewRecord {
  return typeof (value as Record<string, unknown>)[VIEW] === "string" &&
    isPlainObject(value);
}

function reviveView(record: ViewRecord): ArrayBufferView {
  const View = VIEW_CLASSES[record[VIEW]];
  return new View(record.buffer, record.byteOffset, record.length);
}

/**
 * Large buffers that a receive made for its caller alone (a message's bytes
 * copied out of shared memory): whoever only forwards such a result (the
 * agent of a subprocess child, which writes it to a socket) may free it
 * once done, so that the next large buffer reuses that memory where fresh
 * memory is slow to touch.
 */
const transient = new WeakSet<ArrayBuffer>();
/** Buffers smaller than this are not worth freeing early. */
const TRANSIENT_BYTES = 64 * 1024;

/**
 * Marks the buffer of `value` (an `ArrayBuffer` or a view of one, from
 * {@linkcode TRANSIENT_BYTES} up) as made for the caller alone; returns
 * `value`.
 */
export function markTransient<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  const buffer = value instanceof ArrayBuffer
    ? value
    : ArrayBuffer.isView(value)
    ? value.buffer
    : undefined;
  if (
    buffer instanceof ArrayBuffer && buffer.byteLength >= TRANSIENT_BYTES
  ) {
    transient.add(buffer);
  }
  return value;
}

/** Whether {@linkcode markTransient} marked `buffer`. */
export function isTransient(buffer: ArrayBufferLike): boolean {
  return transient.has(buffer as ArrayBuffer);
}

/**
 * Frees `buffer` now (it is detached), rather than at the next garbage
 * collection, so that the next large allocation reuses its memory: for a
 * buffer nothing else holds.
 */
export function freeBuffer(buffer: ArrayBufferLike): void {
  if (
    buffer instanceof ArrayBuffer && !buffer.detached && !buffer.resizable
  ) {
    buffer.transfer(0);
  }
}

/**
 * Checks a `transfer` option: an array of `ArrayBuffer`s, none detached.
 *
 * @returns The buffers (none for `undefined`).
 * @throws {TypeError} For anything else.
 */
export function checkTransfer(transfer: unknown): ArrayBuffer[] {
  if (transfer === undefined) return [];
  if (!Array.isArray(transfer)) {
    throw new TypeError(
      `The transfer option must be an array of ArrayBuffers, got ${typeof transfer}`,
    );
  }
  for (const buffer of transfer) {
    if (!(buffer instanceof ArrayBuffer)) {
      throw new TypeError(
        "Cannot transfer this object: transfer takes ArrayBuffers (a typed array's .buffer); pass the buffer itself",
      );
    }
    if (buffer.detached) {
      throw new TypeError(
        "Cannot transfer a detached ArrayBuffer: it was transferred already; transfer each buffer once",
      );
    }
  }
  return transfer;
}

/**
 * Detaches each buffer, as `postMessage` does with the buffers it
 * transfers, where the value was copied (into shared memory, or for an OS
 * process).
 */
export function detachAll(transfer: ArrayBuffer[]): void {
  for (const buffer of transfer) {
    if (!buffer.detached) buffer.transfer(0);
  }
}

/**
 * Revives every wire form inside `value`, importing the modules that
 * register their kinds first.
 */
export async function decode(value: unknown): Promise<unknown> {
  const modules = new Set<string>();
  collectModules(value, modules, new Set());
  for (const module of modules) await import(module);
  return decodeSync(value);
}

/** Whether `value` holds a primitive of this library, at any depth. */
export function holdsShareable(value: unknown): boolean {
  const seen = new Set<object>();
  const visit = (item: unknown): boolean => {
    if (typeof item !== "object" || item === null || seen.has(item)) {
      return false;
    }
    seen.add(item);
    if (isShareable(item)) return true;
    let found = false;
    forEachChild(item, (child) => found ||= visit(child));
    return found;
  };
  return visit(value);
}

/** Whether `value` (as {@linkcode encode} made it) holds a wire form. */
export function holdsWireForms(value: unknown): boolean {
  const modules = new Set<string>();
  collectModules(value, modules, new Set(), true);
  return modules.size > 0;
}

/**
 * Adds to `modules` the module of each wire form in `value` whose kind is
 * not registered yet (of every wire form, with `all`).
 */
function collectModules(
  value: unknown,
  modules: Set<string>,
  seen: Set<object>,
  all = false,
): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (isRecord(value)) {
    if (all || !revivers.has(value[MARK])) modules.add(value.module);
    return;
  }
  forEachChild(value, (child) => collectModules(child, modules, seen, all));
}

/**
 * Revives every wire form inside `value` (in place: the value is a fresh
 * structured clone). Throws a `TypeError` for a kind whose module was never
 * loaded in this process; {@linkcode decode} loads it first.
 */
export function decodeSync(value: unknown): unknown {
  return decodeValue(value, new Map());
}

type WireRecord = { [MARK]: string; module: string; state: unknown };

function isRecord(value: object): value is WireRecord {
  return typeof (value as Record<string, unknown>)[MARK] === "string" &&
    isPlainObject(value);
}

function decodeValue(value: unknown, seen: Map<object, unknown>): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (isViewRecord(value)) {
    const view = reviveView(value);
    seen.set(value, view);
    return view;
  }
  if (isRecord(value)) {
    const revive = revivers.get(value[MARK]);
    if (!revive) {
      throw new TypeError(
        `Cannot revive a ${
          value[MARK]
        } here: its module ${value.module} is not loaded; receive it with an async method`,
      );
    }
    const handle = revive(value.state);
    seen.set(value, handle);
    return handle;
  }
  seen.set(value, value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "object" && item !== null) {
        value[i] = decodeValue(item, seen);
      }
    }
  } else if (value instanceof Map) {
    for (const [k, v] of [...value]) {
      const dk = decodeValue(k, seen);
      const dv = decodeValue(v, seen);
      if (dk !== k) value.delete(k);
      value.set(dk, dv);
    }
  } else if (value instanceof Set) {
    for (const v of [...value]) {
      const dv = decodeValue(v, seen);
      if (dv !== v) {
        value.delete(v);
        value.add(dv);
      }
    }
  } else if (isPlainObject(value)) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === "object" && item !== null) {
        record[key] = decodeValue(item, seen);
      }
    }
  }
  return value;
}

function forEachChild(value: object, visit: (child: unknown) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item);
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      visit(k);
      visit(v);
    }
  } else if (value instanceof Set) {
    for (const v of value) visit(v);
  } else if (isPlainObject(value)) {
    for (const item of Object.values(value)) visit(item);
  }
}
