// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The shared memory behind Queue, JoinableQueue and SimpleQueue: a ring
// buffer of serialized items in a growable SharedArrayBuffer, guarded by a
// lock in a second, fixed SharedArrayBuffer of Int32 cells.
//
// Why shared memory rather than a MessageChannel: a put is complete when it
// returns (the bytes are in memory every process sees), so qsize(), empty()
// and full() are exact, an item put by a child that has ended is never in
// flight, and a get is taken under a lock, so it is delivered exactly once
// to any number of consumers. A MessageChannel has one receiver per port
// and delivers asynchronously; it can give none of that. It is also faster
// here: a small number or string never meets a serializer (it is written as
// a tag and its bytes), and nothing is posted between threads.
//
// A process can be terminated while it holds the lock. The lock word holds
// the holder's pid; a waiter that finds the holder dead takes the lock over.
// Every change of the header is first written to a small journal and then
// applied, so the new holder redoes a change that was cut short: a put or
// get either happened whole or not at all.
//
// Why this lock is not the `Mutex` of mutex.ts, though both are a pid in a
// word: they differ in what they do with a dead holder. A `Mutex` guards
// user code, and hands a dead holder's lock on at once (its parent frees
// it as soon as the child ended). The ring's lock guards the ring itself:
// Deno marks a terminated Worker ended before its thread stops running
// JavaScript, so the lock is taken over only once one acquisition has held
// it for TAKEOVER_MS with its holder marked ended, and the taker then
// redoes the journal. Two writers at once would corrupt the ring for
// every process. Both wait the same way (futex.ts).
import v8 from "node:v8";
import { setImmediate } from "node:timers";
import { waitUntilSync, wake } from "./futex.ts";
import { checkRunning, identity, isAlive } from "./registry.ts";
import { toWire, VIEW_CLASSES } from "../_wire.ts";
import { jsonExact } from "../_json.ts";
import {
  adviseHugePages,
  allocate,
  keepFreedMemory,
  type Memory,
  type MemoryForm,
  memoryForm,
  memoryOf,
  usesSegments,
} from "./memory.ts";

// Header cells (Int32).
const LOCK = 0; // 0 when free, else the holder's pid
const LOCK_WAITERS = 1;
const LOCK_SEQ = 18; // bumped by every release: what lock waiters wait on
const COUNT = 2; // items in the ring (read without the lock by qsize)
const HEAD = 3; // byte offset of the first item
const TAIL = 4; // byte offset after the last item
const CAPACITY = 5; // bytes of the ring in use (the buffer may be larger)
const UNFINISHED = 6; // JoinableQueue: items put and not yet taskDone()
const PUTS = 7; // bumped after every put: what getters wait on
const GETS = 8; // bumped after every get: what putters wait on
const DONE = 9; // bumped when UNFINISHED reaches 0: what join() waits on
const GET_WAITERS = 10;
const PUT_WAITERS = 11;
const JOURNAL = 12; // 1 while the five cells after it are being applied
const J_HEAD = 13;
const J_TAIL = 14;
const J_COUNT = 15;
const J_CAPACITY = 16;
const J_UNFINISHED = 17;
const HEADER_CELLS = 19;

/** Which cell a waiter waits on. */
export const WAIT_PUTS = PUTS;
export const WAIT_GETS = GETS;
export const WAIT_DONE = DONE;

const INITIAL_CAPACITY = 64 * 1024;
/** The most the ring grows to; address space is reserved, not memory. */
export const MAX_CAPACITY = 1024 * 1024 * 1024;
const SPINS = 64;
/** How long a lock waiter sleeps before it looks at the holder again. */
const LOCK_CHECK_MS = 20;
/**
 * How long one acquisition must hold the lock, with its holder marked
 * ended, before a waiter takes the lock over. Long, because Deno marks a
 * terminated Worker ended before its thread stops running JavaScript (it
 * stops at its next event-loop turn), and a live holder must never be
 * robbed; a critical section lasts microseconds.
 */
const TAKEOVER_MS = 1000;

// Item tags. Fixed-size ones carry no length.
const UNDEFINED = 0;
const NULL = 1;
const TRUE = 2;
const FALSE = 3;
const INT = 4; // 4 bytes
const FLOAT = 5; // 8 bytes
const STRING = 6; // u32 length + UTF-8
const SERIALIZED = 7; // u32 length + node:v8 serialization
const MARKER = 8; // no payload: read as MARKED
const BYTES = 9; // u32 length + the bytes of a byte message (sendBytes)
const VIEW = 10; // u32 length + a kind (VIEW_KINDS) + the bytes of a buffer
const JSON_TEXT = 11; // u32 length + UTF-8 JSON of an object JSON carries exactly
/**
 * The longest JSON text of an object written as such: beyond, the
 * serializer's walk costs less than making and parsing the text.
 */
const JSON_MAX = 4096;
/**
 * Set in a tag whose record's body starts at the next 8-aligned offset
 * (the bytes between are skipped): V8 copies shared memory word by word
 * only between equally aligned bytes, byte by byte (several times slower)
 * otherwise, and a body's source or destination is a fresh, aligned buffer.
 */
const ALIGNED = 0x80;
/** A body this long or longer is aligned. */
const ALIGN_FROM = 256;

/**
 * The classes a {@linkcode VIEW} item revives, by the kind byte it carries:
 * a buffer or typed array at the top of an item is written as its bytes,
 * which costs a copy, where the serializer costs much more.
 */
const VIEW_KINDS: readonly unknown[] = [
  ArrayBuffer,
  ...Object.values(VIEW_CLASSES),
];

/** What a get of {@linkcode MARK} returns. */
export const MARKED: unique symbol = Symbol("multiprocessing.ring.marked");

/**
 * A record that stands for a message kept elsewhere (a `Connection` posts
 * such messages on its port and puts this in its ring, to keep the order).
 */
export function mark(): Encoded {
  return fixed(MARKER);
}

/** The bytes a record takes in the ring. */
export function sizeOf(item: Encoded): number {
  return item.bytes.length + (item.body?.length ?? 0);
}

/**
 * The largest message a ring takes: the bytes of its payload (a buffer's
 * bytes, a serialization, a string's UTF-8) in a ring at its largest.
 */
export const MAX_MESSAGE = MAX_CAPACITY - 6;

/**
 * Checks a `maxMessageBytes` option (of a Pipe or a Queue: `what`).
 *
 * @returns It, or {@linkcode MAX_MESSAGE} when it is `undefined`.
 * @throws {RangeError} When it is not a whole number from 0 to MAX_MESSAGE.
 */
export function checkMaxMessageBytes(
  maxMessageBytes: number | undefined,
  what: string,
): number {
  if (maxMessageBytes === undefined) return MAX_MESSAGE;
  if (
    !Number.isInteger(maxMessageBytes) || maxMessageBytes < 0 ||
    maxMessageBytes > MAX_MESSAGE
  ) {
    throw new RangeError(
      `The maxMessageBytes of a ${what} must be a whole number from 0 to ${MAX_MESSAGE}, got ${maxMessageBytes}`,
    );
  }
  return maxMessageBytes;
}

/**
 * The bytes of a record's payload, what a maximum message size limits:
 * of a buffer or typed array, its bytes; of a byte message, the bytes; of
 * a string, its UTF-8; of any other item, its serialization.
 */
export function messageSize(item: Encoded): number {
  return item.body?.length ?? item.bytes.length - 1;
}

/**
 * A byte message (a `Connection`'s `sendBytes`): a get returns the bytes
 * with `bytes: true`, telling them from an item that is a `Uint8Array`.
 */
export function encodeBytes(bytes: Uint8Array): Encoded {
  return withLength(BYTES, bytes);
}

/** An item made ready for the ring, outside the lock. */
export interface Encoded {
  /** The record: tag, length when variable, payload (or its start). */
  bytes: Uint8Array;
  /** More payload, written after `bytes` (spares copying large bytes twice). */
  body?: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const small = new Uint8Array(9);
const smallView = new DataView(small.buffer);

/**
 * Serializes an item. Numbers, booleans, null, undefined and strings are
 * written directly, a small object of plain data as JSON text; anything
 * else goes through `node:v8` (the structured clone's own format).
 *
 * @throws {TypeError} When the item cannot be cloned, or holds a primitive
 * of this library.
 */
export function encodeItem(item: unknown): Encoded {
  switch (typeof item) {
    case "undefined":
      return fixed(UNDEFINED);
    case "boolean":
      return fixed(item ? TRUE : FALSE);
    case "number":
      if ((item | 0) === item && !Object.is(item, -0)) {
        small[0] = INT;
        smallView.setInt32(1, item, true);
        return { bytes: small.subarray(0, 5) };
      }
      small[0] = FLOAT;
      smallView.setFloat64(1, item, true);
      return { bytes: small.subarray(0, 9) };
    case "string":
      return withText(STRING, item);
    case "bigint":
      return withLength(SERIALIZED, serialize(item));
    case "object": {
      if (item === null) return fixed(NULL);
      const view = encodeView(item);
      if (view) return view;
      const text = encodePlain(item);
      if (text) return text;
      checkNoHandles(item, new Set());
      return withLength(SERIALIZED, serialize(item));
    }
    default:
      throw new TypeError(
        `Cannot put a ${typeof item} on a queue: items are structured-cloned; put data the structured clone copies`,
      );
  }
}

/**
 * A small object of plain data (what {@linkcode jsonExact} accepts, its
 * text at most a few KiB) as its JSON text, which costs a few microseconds
 * each way where the serializer, or a port's structured clone and wake-up,
 * cost tens; `undefined` for any other object. Such an object holds no
 * primitive of this library (those are class instances).
 */
export function encodePlain(item: object): Encoded | undefined {
  if (!jsonExact(item, JSON_MAX)) return undefined;
  return withText(JSON_TEXT, JSON.stringify(item));
}

function fixed(tag: number): Encoded {
  small[0] = tag;
  return { bytes: small.subarray(0, 1) };
}

/** The head of a record whose payload is all body: nothing, shared. */
const NO_HEAD = new Uint8Array(0);

function withLength(tag: number, payload: Uint8Array): Encoded {
  return withBody(tag, NO_HEAD, payload);
}

/**
 * Text this short is encoded into, and read from, memory kept for it:
 * a fresh buffer for each small message (and its header) cost more than
 * the rest of its put and get together.
 */
const SCRATCH_TEXT = 16 * 1024;
const textHead = new Uint8Array(5);
const textHeadView = new DataView(textHead.buffer);
let textOut = new Uint8Array(1024);
let textIn = new Uint8Array(1024);

/** A string's record: its UTF-8 after a tag and its length. */
function withText(tag: number, text: string): Encoded {
  if (text.length > SCRATCH_TEXT) return withLength(tag, encoder.encode(text));
  // At most three bytes of UTF-8 for each UTF-16 unit.
  if (textOut.length < 3 * text.length) {
    textOut = new Uint8Array(3 * SCRATCH_TEXT);
  }
  const { written } = encoder.encodeInto(text, textOut);
  textHead[0] = tag;
  textHeadView.setUint32(1, written, true);
  return { bytes: textHead, body: textOut.subarray(0, written) };
}

/** Memory to read a text record of `length` bytes into, reused while short. */
function textPayload(length: number): Uint8Array {
  if (length > 3 * SCRATCH_TEXT) return new Uint8Array(length);
  if (textIn.length < length) textIn = new Uint8Array(3 * SCRATCH_TEXT);
  return textIn.subarray(0, length);
}

/** A buffer or typed array of a class VIEW_KINDS names, as its bytes. */
function encodeView(item: object): Encoded | undefined {
  const kind = VIEW_KINDS.indexOf(item.constructor);
  if (kind < 0) return undefined;
  const view = item as ArrayBuffer | ArrayBufferView;
  const buffer = view instanceof ArrayBuffer ? view : view.buffer;
  if (!(buffer instanceof ArrayBuffer)) return undefined; // shared memory
  const body = view instanceof ArrayBuffer
    ? new Uint8Array(view)
    : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  return withBody(VIEW, new Uint8Array([kind]), body);
}

/** The view a VIEW item's kind names, over `buffer`. */
function reviveView(kind: number, buffer: ArrayBuffer): unknown {
  const View = VIEW_KINDS[kind];
  if (View === ArrayBuffer) return buffer;
  return new (View as new (buffer: ArrayBuffer) => unknown)(buffer);
}

/** A record of `head` and `body` after a tag and their length. */
function withBody(tag: number, head: Uint8Array, body: Uint8Array): Encoded {
  if (body.length > MAX_MESSAGE) {
    throw new RangeError(
      `A message takes at most ${MAX_MESSAGE} bytes in shared memory, this one ${body.length}: send it in parts`,
    );
  }
  const length = head.length + body.length;
  const bytes = new Uint8Array(5 + head.length);
  bytes[0] = tag;
  new DataView(bytes.buffer).setUint32(1, length, true);
  bytes.set(head, 5);
  return { bytes, body };
}

function serialize(item: object | bigint): Uint8Array {
  try {
    return v8.serialize(item);
  } catch (error) {
    throw new TypeError(
      `Cannot put this item on a queue: ${
        (error as Error).message
      } Put data the structured clone copies`,
      { cause: error },
    );
  }
}

/** Primitives of this library live in shared memory or own a port: no bytes. */
function checkNoHandles(value: unknown, seen: Set<object>): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  seen.add(value);
  if (toWire in value) {
    throw new TypeError(
      `Cannot put a ${value.constructor?.name ?? "primitive"} on a queue: ` +
        "queue items are bytes in shared memory, and a primitive of this library cannot be. " +
        "Pass it to the child in Process args, or send it over a Pipe",
    );
  }
  if (Array.isArray(value)) {
    for (const item of value) checkNoHandles(item, seen);
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      checkNoHandles(k, seen);
      checkNoHandles(v, seen);
    }
  } else if (value instanceof Set) {
    for (const v of value) checkNoHandles(v, seen);
  } else if (!ArrayBuffer.isView(value)) {
    for (const v of Object.values(value)) checkNoHandles(v, seen);
  }
}

/** What the ring holds, to pass it to another process. */
export interface RingState {
  header: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

/** A ring's memory as it crosses to another process (see memory.ts). */
export interface RingForm {
  header: MemoryForm;
  data: MemoryForm;
}

/** What a get found: `bytes` is set for a byte message. */
export type Taken = { value: unknown; bytes?: true } | undefined;

/**
 * How a get takes a large payload that it hands out as is (a byte
 * message's bytes, a buffer's): into memory made ready beforehand with
 * {@linkcode prepareBuffer}. Fresh memory costs far more than the copy
 * (the system hands it out page by page on first touch), so a receiver that
 * must not block its event loop readies it in steps before it takes the
 * message, and the take under the lock is only the copy.
 */
export interface Receipt {
  /** Made-ready memory, used for a payload of exactly its length. */
  into?: Uint8Array<ArrayBuffer>;
  /** A payload this long or longer is left in the ring unless it fits `into`. */
  prepareFrom: number;
  /** Set by a get that left such a payload: its length, to make ready. */
  prepare?: number;
  /**
   * The caller's memory, for a receive into it (`recvBytesInto`): a byte
   * message that fits is copied from the ring straight into it, so that
   * no memory is made for it, and the get returns it as the value.
   */
  target?: Uint8Array;
  /** Set by a get that wrote a byte message into `target`: its length. */
  written?: number;
}

/**
 * A payload this large or larger that an async get hands out as is is
 * taken into memory made ready first (see {@linkcode Receipt}).
 */
export const PREPARE_FROM = 4 * 1024 * 1024;

/** The page size memory is handed out in (4 KiB, or a multiple of it). */
const PAGE = 4096;
/** How long one step of {@linkcode prepareBuffer} blocks at most. */
const PREPARE_STEP_MS = 8;

/**
 * A new buffer of `length` bytes whose memory is all handed out: touched
 * page by page, in steps of a few milliseconds with a turn of the event
 * loop between them.
 */
export async function prepareBuffer(
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = freshBytes(length);
  let at = 0;
  while (at < length) {
    const until = performance.now() + PREPARE_STEP_MS;
    do {
      const end = Math.min(length, at + 16 * PAGE);
      for (; at < end; at += PAGE) bytes[at] = 0;
    } while (at < length && performance.now() < until);
    if (at < length) await turn();
  }
  return bytes;
}

/**
 * One turn of the event loop, timers included. Not a `setTimeout(0)`: the
 * timers of a chain of them are clamped to 4 ms from the fifth on, which
 * made readying 100 MiB (dozens of steps) wait 100 ms and more idle.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A payload this large or larger has malloc keep freed memory for the
 * next (see keepFreedMemory): from 1 MiB, glibc's defaults unmapped or
 * trimmed away much of what V8 freed, and the next messages faulted it in
 * again (a 64 KiB message faults as often either way: V8 frees its garbage
 * only every few dozen MiB, and the heaps grow to hold that).
 */
const KEEP_FREED_FROM = 1024 * 1024;

/**
 * New memory for a payload: in huge pages where it is large (see
 * adviseHugePages), which the copy into it, or readying it, then faults
 * in far fewer and cheaper steps.
 */
function freshBytes(length: number): Uint8Array<ArrayBuffer> {
  if (length >= KEEP_FREED_FROM) keepFreedMemory();
  const bytes = new Uint8Array(length);
  adviseHugePages(bytes);
  return bytes;
}

/**
 * The memory a payload handed out as is goes into: the receipt's when it
 * fits, none when it is large and the receipt's does not fit (the get
 * leaves it), else new memory.
 */
function payloadFor(
  length: number,
  receipt: Receipt | undefined,
): Uint8Array<ArrayBuffer> | undefined {
  if (receipt) {
    if (receipt.into?.length === length) return receipt.into;
    if (length >= receipt.prepareFrom) {
      receipt.prepare = length;
      return undefined;
    }
  }
  return freshBytes(length);
}

/** The shared ring. Every method that touches it takes the lock itself. */
export class SharedRing {
  readonly #header: Memory;
  readonly #data: Memory;
  readonly #cells: Int32Array;
  readonly #bytes: Uint8Array;
  readonly #me: number;

  /**
   * @param state The memory of an existing ring.
   * @param initialCapacity Bytes of a new ring.
   * @param fresh The memory of a new ring, zeroed (in a segment, where
   * the data buffer is as large as it can grow: pages cost only once
   * touched).
   */
  constructor(
    state?: { header: Memory; data: Memory },
    initialCapacity = INITIAL_CAPACITY,
    fresh?: { header: Memory; data: Memory },
  ) {
    this.#header = state?.header ?? fresh?.header ??
      new SharedArrayBuffer(HEADER_CELLS * 4);
    this.#data = state?.data ?? fresh?.data ??
      new SharedArrayBuffer(initialCapacity, {
        maxByteLength: MAX_CAPACITY,
      });
    this.#cells = new Int32Array(this.#header);
    // Length-tracking: sees the buffer grow, whoever grows it.
    this.#bytes = new Uint8Array(this.#data);
    this.#me = identity().pid;
    if (!state) this.#cells[CAPACITY] = initialCapacity;
  }

  /**
   * A new ring for a `Queue`: in segments where primitives are (see
   * memory.ts), so that subprocess children use it directly.
   */
  static forQueue(): SharedRing {
    if (!usesSegments()) return new SharedRing();
    return new SharedRing(undefined, INITIAL_CAPACITY, {
      header: allocate(HEADER_CELLS * 4),
      data: allocate(MAX_CAPACITY),
    });
  }

  /** The ring whose {@linkcode SharedRing.wireState} `form` is. */
  static fromWire(form: RingForm): SharedRing {
    return new SharedRing({
      header: memoryOf(form.header),
      data: memoryOf(form.data),
    });
  }

  /** The state another process (a Worker) revives this ring from. */
  get state(): RingState {
    return {
      header: this.#header as SharedArrayBuffer,
      data: this.#data as SharedArrayBuffer,
    };
  }

  /**
   * How this ring crosses to another process, in another OS process too
   * when it lives in segments.
   *
   * @throws {typeof import("./memory.ts").NOT_SHAREABLE} For a ring in
   * `SharedArrayBuffer`s bound for another OS process.
   */
  wireState(otherProcess: boolean): RingForm {
    return {
      header: memoryForm(this.#header, otherProcess),
      data: memoryForm(this.#data, otherProcess),
    };
  }

  /** The cells that waiters wait on (see {@linkcode WAIT_PUTS}). */
  get cells(): Int32Array {
    return this.#cells;
  }

  /** Items in the ring. */
  count(): number {
    return Atomics.load(this.#cells, COUNT);
  }

  /** JoinableQueue: items put and not yet marked done. */
  unfinished(): number {
    return Atomics.load(this.#cells, UNFINISHED);
  }

  /**
   * Writes an item unless the queue holds `maxsize` items (when
   * `maxsize > 0`) or the ring is at its largest and has no room.
   * `counted` (JoinableQueue) adds the item to the unfinished tasks.
   *
   * @returns Whether the item was written.
   */
  tryPut(item: Encoded, maxsize: number, counted: boolean): boolean {
    const cells = this.#cells;
    let size = sizeOf(item);
    this.#lock();
    try {
      const count = cells[COUNT];
      if (maxsize > 0 && count >= maxsize) return false;
      let capacity = cells[CAPACITY];
      let head = cells[HEAD];
      let tail = cells[TAIL];
      if (count === 0) head = tail = 0;
      const used = count === 0
        ? 0
        : (tail - head + capacity) % capacity || capacity;
      let gap = (item.body?.length ?? 0) >= ALIGN_FROM
        ? -(tail + item.bytes.length) & 7
        : 0;
      if (used + size + gap > MAX_CAPACITY) gap = 0;
      size += gap;
      if (capacity - used < size) {
        const grown = this.#grow(size + used, head, tail, count, capacity);
        if (!grown) return false;
        [capacity, head] = grown;
      }
      const start = tail;
      tail = this.#write(tail, item.bytes, capacity);
      if (gap > 0) {
        this.#bytes[start] |= ALIGNED;
        tail = (tail + gap) % capacity;
      }
      if (item.body) tail = this.#write(tail, item.body, capacity);
      const unfinished = cells[UNFINISHED] + (counted ? 1 : 0);
      this.#commit(head, tail, count + 1, capacity, unfinished);
    } finally {
      this.#unlock();
    }
    wake(cells, PUTS, Infinity, GET_WAITERS);
    return true;
  }

  /**
   * Takes the first item, if there is one. With `takeMarks` false, a first
   * item that is a mark (see {@linkcode mark}) is left where it is, and
   * nothing is taken: the message it stands for is where only another
   * reader can get it. With a `receipt`, a large payload goes into its
   * memory, or is left where it is until that is made ready (see
   * {@linkcode Receipt}).
   */
  tryGet(takeMarks = true, receipt?: Receipt): Taken {
    const cells = this.#cells;
    let value: unknown;
    let payload: Uint8Array | undefined;
    let tag: number;
    let kind = 0;
    // An empty ring is seen without the lock: a writer may hold it for a
    // long copy (of a large message), and a get (a receive checking again
    // after a while) would block on it only to find nothing.
    if (Atomics.load(cells, COUNT) === 0) return undefined;
    this.#lock();
    try {
      const count = cells[COUNT];
      if (count === 0) return undefined;
      const capacity = cells[CAPACITY];
      let head = cells[HEAD];
      tag = this.#bytes[head];
      if (tag === MARKER && !takeMarks) return undefined;
      const aligned = tag & ALIGNED;
      tag &= ~ALIGNED;
      head = (head + 1) % capacity;
      if (tag === INT || tag === FLOAT) {
        head = this.#read(head, small, tag === INT ? 4 : 8, capacity);
        value = tag === INT
          ? smallView.getInt32(0, true)
          : smallView.getFloat64(0, true);
      } else if (tag === VIEW) {
        head = this.#read(head, small, 5, capacity);
        kind = small[4];
        const length = smallView.getUint32(0, true) - 1;
        payload = payloadFor(length, receipt);
        if (!payload) return undefined;
        if (aligned) head = (head + (-head & 7)) % capacity;
        head = this.#read(head, payload, length, capacity);
      } else if (
        tag === STRING || tag === SERIALIZED || tag === BYTES ||
        tag === JSON_TEXT
      ) {
        head = this.#read(head, small, 4, capacity);
        const length = smallView.getUint32(0, true);
        const into = tag === BYTES && receipt?.target;
        payload = into && length <= into.length
          ? into
          : tag === BYTES
          ? payloadFor(length, receipt)
          : tag === SERIALIZED
          ? freshBytes(length)
          : textPayload(length);
        if (!payload) return undefined;
        if (aligned) head = (head + (-head & 7)) % capacity;
        head = this.#read(head, payload, length, capacity);
        if (payload === into) receipt!.written = length;
      } else {
        value = tag === NULL
          ? null
          : tag === MARKER
          ? MARKED
          : tag === TRUE
          ? true
          : tag === FALSE
          ? false
          : undefined;
      }
      this.#commit(head, cells[TAIL], count - 1, capacity, cells[UNFINISHED]);
    } finally {
      this.#unlock();
    }
    wake(cells, GETS, Infinity, PUT_WAITERS);
    if (payload) {
      if (tag === BYTES) return { value: payload, bytes: true };
      value = tag === STRING
        ? decoder.decode(payload)
        : tag === JSON_TEXT
        ? JSON.parse(decoder.decode(payload))
        : tag === VIEW
        ? reviveView(kind, payload.buffer as ArrayBuffer)
        : v8.deserialize(payload);
    }
    return { value };
  }

  /**
   * JoinableQueue: marks one item done.
   *
   * @returns `false` when no item was unfinished.
   */
  taskDone(): boolean {
    const cells = this.#cells;
    let left: number;
    this.#lock();
    try {
      const unfinished = cells[UNFINISHED];
      if (unfinished <= 0) return false;
      left = unfinished - 1;
      this.#commit(
        cells[HEAD],
        cells[TAIL],
        cells[COUNT],
        cells[CAPACITY],
        left,
      );
    } finally {
      this.#unlock();
    }
    if (left === 0) wake(cells, DONE);
    return true;
  }

  /** The cell that counts the waiters sleeping on `cell`. */
  waitersOf(cell: number): number {
    return cell === PUTS ? GET_WAITERS : PUT_WAITERS;
  }

  /** Wakes every waiter of this ring, in every process. */
  wakeAll(): void {
    for (const cell of [PUTS, GETS, DONE]) Atomics.notify(this.#cells, cell);
  }

  #write(at: number, src: Uint8Array, capacity: number): number {
    const first = Math.min(src.length, capacity - at);
    this.#bytes.set(first === src.length ? src : src.subarray(0, first), at);
    if (first < src.length) this.#bytes.set(src.subarray(first), 0);
    return (at + src.length) % capacity;
  }

  #read(at: number, dst: Uint8Array, length: number, capacity: number): number {
    const first = Math.min(length, capacity - at);
    dst.set(this.#bytes.subarray(at, at + first));
    if (first < length) dst.set(this.#bytes.subarray(0, length - first), first);
    return (at + length) % capacity;
  }

  /**
   * Grows the ring to hold `needed` bytes. The wrapped-around part moves to
   * the new end, into memory nothing uses, so a holder that dies midway
   * leaves the old ring intact.
   *
   * @returns The new capacity and head, or `undefined` at the largest size.
   */
  #grow(
    needed: number,
    head: number,
    tail: number,
    count: number,
    capacity: number,
  ): [number, number] | undefined {
    if (needed > MAX_CAPACITY) return undefined;
    // Doubled up to 1 MiB, past that what it needs (in 64 KiB steps): the
    // memory stays with the ring, and a 100 MiB message should not keep
    // 128 MiB.
    let grown = capacity * 2;
    while (grown < needed && grown < 1024 * 1024) grown *= 2;
    if (grown < needed) grown = Math.ceil(needed / 65536) * 65536;
    grown = Math.min(grown, MAX_CAPACITY);
    if (this.#data.byteLength < grown) {
      (this.#data as SharedArrayBuffer).grow(grown);
      // The message it grows for is copied into the new memory at once.
      adviseHugePages(this.#bytes);
    }
    let newHead = head;
    if (count > 0 && head >= tail) {
      newHead = grown - (capacity - head);
      this.#bytes.copyWithin(newHead, head, capacity);
    }
    this.#commit(newHead, tail, count, grown, this.#cells[UNFINISHED]);
    return [grown, newHead];
  }

  /** Applies a header change through the journal (see the file's top). */
  #commit(
    head: number,
    tail: number,
    count: number,
    capacity: number,
    unfinished: number,
  ): void {
    const cells = this.#cells;
    cells[J_HEAD] = head;
    cells[J_TAIL] = tail;
    cells[J_COUNT] = count;
    cells[J_CAPACITY] = capacity;
    cells[J_UNFINISHED] = unfinished;
    Atomics.store(cells, JOURNAL, 1);
    this.#apply();
  }

  #apply(): void {
    const cells = this.#cells;
    cells[HEAD] = cells[J_HEAD];
    cells[TAIL] = cells[J_TAIL];
    cells[CAPACITY] = cells[J_CAPACITY];
    Atomics.store(cells, UNFINISHED, cells[J_UNFINISHED]);
    Atomics.store(cells, COUNT, cells[J_COUNT]);
    Atomics.store(cells, JOURNAL, 0);
  }

  /**
   * Every operation on the ring goes through here. A process its parent
   * ended gets an error instead, checked once it holds the lock: whatever
   * the parent does after the end waits for this lock, so it comes after.
   */
  #lock(): void {
    if (Atomics.compareExchange(this.#cells, LOCK, 0, this.#me) !== 0) {
      this.#lockSlow();
    }
    try {
      checkRunning();
    } catch (error) {
      this.#unlock();
      throw error;
    }
  }

  #lockSlow(): void {
    const cells = this.#cells;
    for (let spins = 0; spins < SPINS; spins++) {
      if (Atomics.compareExchange(cells, LOCK, 0, this.#me) === 0) return;
    }
    // The lock word goes back to 0 at every release, so waiters sleep on
    // the release count instead (see futex.ts).
    waitUntilSync(
      cells,
      LOCK_SEQ,
      Infinity,
      this.#lockAttempt(),
      LOCK_WAITERS,
      { slice: LOCK_CHECK_MS },
    );
  }

  /**
   * One try of a lock waiter: it takes the lock when it is free, or when a
   * holder marked ended has held it for TAKEOVER_MS without a release (a
   * Worker marked ended may still run: each release restarts the count).
   */
  #lockAttempt(): () => boolean {
    const cells = this.#cells;
    let stuck = { holder: 0, seq: 0, since: 0 };
    return () => {
      const holder = Atomics.compareExchange(cells, LOCK, 0, this.#me);
      if (holder === 0) return true;
      if (isAlive(holder)) return false;
      const seq = Atomics.load(cells, LOCK_SEQ);
      if (stuck.holder !== holder || stuck.seq !== seq) {
        stuck = { holder, seq, since: performance.now() };
        return false;
      }
      if (performance.now() - stuck.since < TAKEOVER_MS) return false;
      // The holder ended inside its critical section: take over, and
      // finish the change it had journaled, if any.
      if (Atomics.compareExchange(cells, LOCK, holder, this.#me) !== holder) {
        return false;
      }
      if (Atomics.load(cells, JOURNAL) === 1) this.#apply();
      return true;
    };
  }

  #unlock(): void {
    Atomics.store(this.#cells, LOCK, 0);
    wake(this.#cells, LOCK_SEQ, 1, LOCK_WAITERS);
  }
}
