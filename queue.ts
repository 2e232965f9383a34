// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Queues between processes: Python's `multiprocessing.Queue`,
 * `JoinableQueue` and `SimpleQueue`.
 *
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 * import { Queue } from "@mp/multiprocessing/queue";
 *
 * export function evenno(numbers: number[], q: Queue<number>) {
 *   for (const n of numbers) if (n % 2 === 0) q.putNowait(n);
 * }
 *
 * if (import.meta.main) {
 *   const q = new Queue<number>();
 *   const p = new Process({ target: evenno, args: [[0, 1, 2, 3, 4, 5], q] });
 *   p.start();
 *   await p.join();
 *   while (!q.empty()) console.log(await q.get()); // 0, 2, 4
 * }
 * ```
 *
 * Items are kept in shared memory: a ring buffer of serialized items in a
 * `SharedArrayBuffer` that every process of the tree maps, guarded by a
 * lock, with `Atomics.wait`/`Atomics.waitAsync` for blocking. A put is
 * complete when it returns, so `qsize()`, `empty()` and `full()` are exact
 * and everything a child put can be got once its `join()` resolved; each
 * item is taken under the lock, so it is delivered exactly once to any
 * number of consumers. Small numbers and strings are written as raw bytes;
 * other items go through `node:v8` serialization (the structured clone's
 * format). The ring grows as needed, up to 1 GiB. An item over the queue's
 * `maxMessageBytes` (by default what that holds) is a `RangeError` at the
 * put, and the queue goes on.
 *
 * Items are structured-cloned, so a primitive of this library (a
 * `Connection`, a `Lock`, another `Queue`) cannot be an item, or inside one:
 * `put` throws a `TypeError` that says so. Pass such handles to a child in
 * `Process` `args`, or send them over a `Pipe`.
 *
 * @module
 */
import {
  checkMaxMessageBytes,
  type Encoded,
  encodeItem,
  messageSize,
  PREPARE_FROM,
  prepareBuffer,
  type Receipt,
  type RingForm,
  SharedRing,
  type Taken,
  WAIT_DONE,
  WAIT_GETS,
  WAIT_PUTS,
} from "./_shm/ring.ts";
import { registerSegmentClass } from "./_shm/memory.ts";
import { waitUntil, waitUntilSync } from "./_shm/futex.ts";
import { giveBack } from "./_shm/give_back.ts";
import { deadlineOf } from "./_timeout.ts";
import {
  checkTransfer,
  detachAll,
  markTransient,
  registerKind,
  toWire,
  type WireContext,
  type WireForm,
} from "./_wire.ts";
import { Empty, Full, ProcessError } from "./errors.ts";

/** Options of a put. */
export interface PutOptions {
  /** Whether to wait for room (default `true`); `false` throws `Full` at once. */
  block?: boolean;
  /** Milliseconds to wait for room; `undefined` waits forever. */
  timeout?: number;
  /**
   * `ArrayBuffer`s inside the item to hand over: once the item is on the
   * queue they are detached here, as `postMessage` detaches what it
   * transfers. The bytes are copied into the queue's shared memory (every
   * consumer process reads them there).
   */
  transfer?: ArrayBuffer[];
}

/** Options of {@linkcode Queue}, {@linkcode JoinableQueue} and {@linkcode SimpleQueue}. */
export interface QueueOptions {
  /**
   * The largest item, in bytes, a put takes: of a buffer or typed array,
   * its bytes; of a string, its UTF-8; of any other item, its
   * structured-clone serialization. A larger one is a `RangeError` at the
   * put, and the queue goes on. Default and most: 1 GiB less 6 bytes, what
   * the queue's shared memory holds.
   */
  maxMessageBytes?: number;
}

/** Options of a get. */
export interface GetOptions {
  /** Whether to wait for an item (default `true`); `false` throws `Empty` at once. */
  block?: boolean;
  /** Milliseconds to wait for an item; `undefined` waits forever. */
  timeout?: number;
}

const QUEUE = "multiprocessing.Queue";
const JOINABLE = "multiprocessing.JoinableQueue";
const SIMPLE = "multiprocessing.SimpleQueue";

interface QueueState {
  ring: RingForm;
  maxsize: number;
  maxMessageBytes: number;
}

/** Set while a handle is revived from another process's state. */
let reviving: QueueState | undefined;

function revive<Q>(make: () => Q, state: unknown): Q {
  reviving = state as QueueState;
  try {
    return make();
  } finally {
    reviving = undefined;
  }
}

function checkMaxsize(maxsize: number): number {
  if (typeof maxsize !== "number" || Number.isNaN(maxsize)) {
    throw new TypeError(
      `The maxsize of a queue must be a number (0 or less for no limit), got ${
        String(maxsize)
      }`,
    );
  }
  // Python: zero or less is unbounded. The count is an Int32 in memory.
  return maxsize <= 0 ? 0 : Math.min(Math.floor(maxsize), 2 ** 31 - 1);
}

/** How JoinableQueue reaches the ring of its Queue part. */
let ringOf: (queue: Queue<unknown>) => SharedRing;

/** What a get returns when the queue was closed while it waited. */
const CLOSED = Symbol("closed");
/** The methods that take an item: what a dead child's get gives back. */
const GETS_OF = new Set(["get", "getSync", "getNowait"]);

/**
 * A FIFO queue for any number of producers and consumers in any processes
 * (Python's `multiprocessing.Queue`).
 *
 * Pass it to a child inside `Process` `args` (at any depth): the child gets
 * a handle to the same queue.
 *
 * @typeParam T The type of the items.
 *
 * @example Put and get in one process
 * ```ts
 * import { Queue } from "@mp/multiprocessing/queue";
 * import assert from "node:assert/strict";
 *
 * const q = new Queue<string>();
 * await q.put("a");
 * q.putNowait("b");
 * assert.equal(q.qsize(), 2);
 * assert.equal(await q.get(), "a");
 * assert.equal(q.getNowait(), "b");
 * assert.equal(q.empty(), true);
 * ```
 */
export class Queue<T = unknown> {
  #ring: SharedRing;
  #maxsize: number;
  #maxMessageBytes: number;
  #closed = false;
  /** How an async get takes a large item (see `Receipt` in ring.ts). */
  #receipt: Receipt = { prepareFrom: PREPARE_FROM };
  /** Whether puts count as unfinished tasks (JoinableQueue). */
  #counted: boolean;

  static {
    ringOf = (queue) => queue.#ring;
  }

  /**
   * Makes a queue.
   *
   * @param maxsize The most items it holds; `0` or less (default) for no
   * limit. A put waits while the queue is full.
   * @param options `maxMessageBytes`: the largest item a put takes.
   * @throws {TypeError} When `maxsize` is not a number.
   * @throws {RangeError} When `maxMessageBytes` is not a whole number from
   * 0 to 1 GiB less 6.
   *
   * @example Unbounded, or bounded
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Queue().maxsize, 0);
   * assert.equal(new Queue<string>(10).maxsize, 10);
   * ```
   *
   * @example A cap on the size of an item
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue<Uint8Array>(0, { maxMessageBytes: 1024 });
   * await assert.rejects(q.put(new Uint8Array(1025)), RangeError);
   * await q.put(new Uint8Array(1024)); // the queue goes on
   * assert.equal((await q.get()).length, 1024);
   * ```
   */
  constructor(maxsize?: number, options?: QueueOptions) {
    const maxMessageBytes = reviving?.maxMessageBytes ??
      checkMaxMessageBytes(options?.maxMessageBytes, "Queue");
    this.#ring = reviving
      ? SharedRing.fromWire(reviving.ring)
      : SharedRing.forQueue();
    this.#maxsize = reviving?.maxsize ?? checkMaxsize(maxsize ?? 0);
    this.#maxMessageBytes = maxMessageBytes;
    this.#counted = this instanceof JoinableQueue;
  }

  /**
   * The most items the queue holds; `0` for no limit.
   *
   * @example Zero or less is no limit
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Queue(-1).maxsize, 0);
   * assert.equal(new Queue(3).maxsize, 3);
   * ```
   */
  get maxsize(): number {
    return this.#maxsize;
  }

  /**
   * Whether {@linkcode Queue.close} was called in this process.
   *
   * @example Open until closed
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue();
   * assert.equal(q.closed, false);
   * q.close();
   * assert.equal(q.closed, true);
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The number of items in the queue: every item whose put returned, in any
   * process, and that no get has taken yet.
   *
   * @returns The number of items.
   *
   * @example Count the items
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue();
   * q.putNowait(1);
   * assert.equal(q.qsize(), 1);
   * ```
   */
  qsize(): number {
    return this.#ring.count();
  }

  /**
   * Whether the queue holds no item.
   *
   * @returns `true` when `qsize()` is 0.
   * @throws {ProcessError} When the queue was closed in this process, as
   * Python's raises.
   *
   * @example A new queue is empty
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Queue().empty(), true);
   * ```
   */
  empty(): boolean {
    this.#check("empty");
    return this.#ring.count() === 0;
  }

  /**
   * Whether the queue holds `maxsize` items (never, without a `maxsize`).
   *
   * @returns `true` when a put would wait.
   *
   * @example A bounded queue fills up
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue(1);
   * q.putNowait("only");
   * assert.equal(q.full(), true);
   * ```
   */
  full(): boolean {
    return this.#maxsize > 0 && this.#ring.count() >= this.#maxsize;
  }

  /**
   * Puts an item at the end of the queue, waiting (without blocking the
   * event loop) while the queue is full. The item is in the queue, for
   * every process, when the promise resolves.
   *
   * @param item The item; it is structured-cloned.
   * @param options `block` (default `true`) and `timeout` (ms).
   * @throws {Full} When the queue stayed full for `timeout` ms, or at once
   * with `block: false`.
   * @throws {TypeError} When the item cannot be cloned or holds a primitive
   * of this library; the queue is unchanged.
   * @throws {RangeError} When `timeout` is negative or not a number, or the
   * item is larger than the queue's `maxMessageBytes` (nothing is put).
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example Time out on a full queue
   * ```ts
   * import { Full } from "@mp/multiprocessing/errors";
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue<number>(1);
   * await q.put(1);
   * await assert.rejects(q.put(2, { timeout: 10 }), Full);
   * ```
   */
  async put(item: T, options?: PutOptions): Promise<void> {
    const { block = true, timeout } = options ?? {};
    this.#check("put");
    const deadline = deadlineOf(block ? timeout : 0);
    const transfer = checkTransfer(options?.transfer);
    let encoded = this.#encode(item);
    if (this.#tryPut(encoded)) return detachAll(transfer);
    // The encoding may live in a scratch buffer that the next put reuses,
    // and its body may be the item's own bytes.
    encoded = { bytes: encoded.bytes.slice(), body: encoded.body?.slice() };
    const ring = this.#ring;
    let put = false;
    await waitUntil(
      ring.cells,
      WAIT_GETS,
      deadline,
      () => this.#closed || (put = this.#tryPut(encoded)),
      ring.waitersOf(WAIT_GETS),
    );
    if (put) return detachAll(transfer);
    throw this.#closed ? this.#closedError("put") : this.#full();
  }

  /**
   * Puts an item without waiting (Python's `put_nowait`).
   *
   * @param item The item; it is structured-cloned.
   * @throws {Full} When the queue is full.
   * @throws {TypeError} As {@linkcode Queue.put}.
   * @throws {RangeError} When the item is larger than the queue's
   * `maxMessageBytes` (nothing is put).
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example No room, no wait
   * ```ts
   * import { Full } from "@mp/multiprocessing/errors";
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue(1);
   * q.putNowait("x");
   * assert.throws(() => q.putNowait("y"), Full);
   * ```
   */
  putNowait(item: T): void {
    this.#check("putNowait");
    if (!this.#tryPut(this.#encode(item))) throw this.#full();
  }

  /**
   * Puts an item, blocking this thread (with `Atomics.wait`) while the
   * queue is full.
   *
   * @param item The item; it is structured-cloned.
   * @param options `block` (default `true`) and `timeout` (ms).
   * @throws {Full} As {@linkcode Queue.put}.
   * @throws {TypeError} As {@linkcode Queue.put}.
   * @throws {RangeError} When `timeout` is negative or not a number, or the
   * item is larger than the queue's `maxMessageBytes` (nothing is put).
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example Put, blocking the thread
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue<number[]>();
   * q.putSync([1, 2]);
   * assert.deepEqual(q.getSync(), [1, 2]);
   * ```
   */
  putSync(item: T, options?: PutOptions): void {
    const { block = true, timeout } = options ?? {};
    this.#check("putSync");
    const deadline = deadlineOf(block ? timeout : 0);
    const transfer = checkTransfer(options?.transfer);
    const encoded = this.#encode(item);
    const ring = this.#ring;
    const put = waitUntilSync(
      ring.cells,
      WAIT_GETS,
      deadline,
      () => this.#tryPut(encoded),
      ring.waitersOf(WAIT_GETS),
    );
    if (!put) throw this.#full();
    detachAll(transfer);
  }

  /**
   * Takes the first item, waiting (without blocking the event loop) until
   * there is one.
   *
   * @param options `block` (default `true`) and `timeout` (ms).
   * @returns The item.
   * @throws {Empty} When no item came within `timeout` ms, or at once with
   * `block: false`.
   * @throws {RangeError} When `timeout` is negative or not a number.
   * @throws {ProcessError} When the queue was closed in this process
   * (also while waiting).
   *
   * @example Time out, or do not wait
   * ```ts
   * import { Empty } from "@mp/multiprocessing/errors";
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue();
   * await assert.rejects(q.get({ timeout: 10 }), Empty);
   * await assert.rejects(q.get({ block: false }), Empty);
   * ```
   */
  async get(options?: GetOptions): Promise<T> {
    const got = await this.#get("get", options ?? {});
    if (got === CLOSED) throw this.#closedError("get");
    return got;
  }

  async #get(method: string, options: GetOptions): Promise<T | typeof CLOSED> {
    const { block = true, timeout } = options;
    this.#check(method);
    const deadline = deadlineOf(block ? timeout : 0);
    const ring = this.#ring;
    const receipt = this.#receipt;
    let taken = this.#take();
    while (!taken) {
      if (receipt.prepare !== undefined) {
        // A large item: its memory is made ready in steps, then it is
        // taken (unless another consumer took it meanwhile).
        receipt.into = await prepareBuffer(receipt.prepare);
        taken = this.#take();
        continue;
      }
      const got = await waitUntil(
        ring.cells,
        WAIT_PUTS,
        deadline,
        () =>
          this.#closed || (taken = this.#take()) !== undefined ||
          receipt.prepare !== undefined,
        ring.waitersOf(WAIT_PUTS),
      );
      if (taken) break;
      if (this.#closed) return CLOSED;
      if (!got) throw this.#empty();
    }
    // A large item's bytes were copied out for this get alone.
    return markTransient(taken.value as T);
  }

  /** An async get's try: takes the first item, or finds a large one. */
  #take(): Taken {
    const receipt = this.#receipt;
    receipt.prepare = undefined;
    const taken = this.#ring.tryGet(true, receipt);
    // Memory made ready is for one item: the next may be another size.
    if (taken) receipt.into = undefined;
    return taken;
  }

  /**
   * Takes the first item without waiting (Python's `get_nowait`).
   *
   * @returns The item.
   * @throws {Empty} When the queue is empty.
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example Nothing to get, no wait
   * ```ts
   * import { Empty } from "@mp/multiprocessing/errors";
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue();
   * assert.throws(() => q.getNowait(), Empty);
   * ```
   */
  getNowait(): T {
    this.#check("getNowait");
    const taken = this.#ring.tryGet();
    if (!taken) throw this.#empty();
    return markTransient(taken.value as T);
  }

  /**
   * Takes the first item, blocking this thread (with `Atomics.wait`) until
   * there is one.
   *
   * @param options `block` (default `true`) and `timeout` (ms).
   * @returns The item.
   * @throws {Empty} As {@linkcode Queue.get}.
   * @throws {RangeError} When `timeout` is negative or not a number.
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example Get, blocking the thread
   * ```ts
   * import { Empty } from "@mp/multiprocessing/errors";
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue<string>();
   * q.putNowait("x");
   * assert.equal(q.getSync(), "x");
   * assert.throws(() => q.getSync({ timeout: 5 }), Empty);
   * ```
   */
  getSync(options?: GetOptions): T {
    const { block = true, timeout } = options ?? {};
    this.#check("getSync");
    const deadline = deadlineOf(block ? timeout : 0);
    const ring = this.#ring;
    let taken: Taken;
    const got = waitUntilSync(
      ring.cells,
      WAIT_PUTS,
      deadline,
      () => Boolean(taken = ring.tryGet()),
      ring.waitersOf(WAIT_PUTS),
    );
    if (!got || !taken) throw this.#empty();
    return taken.value as T;
  }

  /**
   * Closes the queue in this process: further puts and gets here throw,
   * and gets waiting here end (a `for await` loop stops). Other processes
   * keep using the queue, and items already put stay in it.
   *
   * @example A closed queue takes no more
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue();
   * q.close();
   * await assert.rejects(q.put(1), /closed/);
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ring.wakeAll();
  }

  /**
   * Gets items as they come, until the queue is closed in this process
   * (break out of the loop, or call `close()`, to stop).
   *
   * @example Get items as they come
   * ```ts
   * import { Queue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new Queue<number>();
   * for (const n of [1, 2, 3]) q.putNowait(n);
   * const got = [];
   * for await (const n of q) {
   *   got.push(n);
   *   if (q.empty()) break;
   * }
   * assert.deepEqual(got, [1, 2, 3]);
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    while (!this.#closed) {
      const got = await this.#get("get", {});
      if (got === CLOSED) return;
      yield got;
    }
  }

  /** Puts one encoded item if there is room; true when it was put. */
  /**
   * Puts back, at the end, an item a get took for a subprocess child that
   * died before it had it (see _shm/give_back.ts).
   *
   * @ignore
   */
  [giveBack](method: string, item: unknown): boolean {
    if (!GETS_OF.has(method)) return false;
    // Not counted again: a JoinableQueue counts an item once, when put.
    return this.#ring.tryPut(encodeItem(item), 0, false);
  }

  /** Encodes an item for a put, within the queue's maxMessageBytes. */
  #encode(item: T): Encoded {
    const encoded = encodeItem(item);
    const size = messageSize(encoded);
    if (size > this.#maxMessageBytes) {
      throw new RangeError(
        `Cannot put an item of ${size} bytes: this queue takes items up to ${this.#maxMessageBytes} bytes (its maxMessageBytes); put it in parts, or make the queue with a larger maxMessageBytes`,
      );
    }
    return encoded;
  }

  #tryPut(encoded: Encoded): boolean {
    return this.#ring.tryPut(encoded, this.#maxsize, this.#counted);
  }

  #check(method: string): void {
    if (this.#closed) throw this.#closedError(method);
  }

  #closedError(method: string): ProcessError {
    return new ProcessError(
      `Cannot ${method}(): the queue was closed in this process; close() it only once this process is done with it`,
    );
  }

  #full(): Full {
    return new Full(
      `The queue is full (maxsize ${this.#maxsize}): get items out of it, or put with a longer timeout`,
    );
  }

  #empty(): Empty {
    return new Empty(
      "The queue is empty: wait for an item with get(), or longer with get({ timeout })",
    );
  }

  /**
   * Hands the queue to another process; this handle stays usable.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    const state: QueueState = {
      ring: this.#ring.wireState(ctx.exporter !== undefined),
      maxsize: this.#maxsize,
      maxMessageBytes: this.#maxMessageBytes,
    };
    return {
      kind: this instanceof JoinableQueue ? JOINABLE : QUEUE,
      module: import.meta.url,
      state,
    };
  }
}

/**
 * A {@linkcode Queue} that counts unfinished tasks, so that a producer can
 * wait until consumers processed every item (Python's
 * `multiprocessing.JoinableQueue`).
 *
 * @typeParam T The type of the items.
 *
 * @example Wait until every item was processed
 * ```ts
 * import { JoinableQueue } from "@mp/multiprocessing/queue";
 * import assert from "node:assert/strict";
 *
 * const q = new JoinableQueue<string>();
 * q.putNowait("job");
 * const joined = q.join();
 * assert.equal(await q.get(), "job");
 * q.taskDone();
 * await joined;
 * assert.throws(() => q.taskDone(), RangeError);
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /**
   * Makes a queue.
   *
   * @param maxsize The most items it holds; `0` or less (default) for no
   * limit.
   * @param options `maxMessageBytes`: the largest item a put takes.
   * @throws {TypeError} When `maxsize` is not a number.
   * @throws {RangeError} When `maxMessageBytes` is not a whole number from
   * 0 to 1 GiB less 6.
   *
   * @example A bounded joinable queue
   * ```ts
   * import { JoinableQueue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new JoinableQueue<number>(2);
   * q.putNowait(1);
   * q.putNowait(2);
   * assert.equal(q.full(), true);
   * ```
   */
  constructor(maxsize?: number, options?: QueueOptions) {
    super(maxsize, options);
  }

  /**
   * Says that an item taken from the queue was processed. Every put counts
   * one task; {@linkcode JoinableQueue.join} resolves when every task was
   * done, across all processes.
   *
   * @throws {RangeError} When called more times than items were put.
   *
   * @example Too many taskDone() calls throw
   * ```ts
   * import { JoinableQueue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new JoinableQueue();
   * assert.throws(() => q.taskDone(), /more times/);
   * ```
   */
  taskDone(): void {
    if (!ringOf(this).taskDone()) {
      throw new RangeError(
        "Cannot call taskDone() more times than items were put on the queue: call it once for each item taken",
      );
    }
  }

  /**
   * Waits until every item put on the queue was taken and marked done with
   * {@linkcode JoinableQueue.taskDone}.
   *
   * @example Nothing put: nothing to wait for
   * ```ts
   * import { JoinableQueue } from "@mp/multiprocessing/queue";
   *
   * const q = new JoinableQueue();
   * await q.join(); // nothing was put: resolves at once
   * ```
   */
  async join(): Promise<void> {
    const ring = ringOf(this);
    if (ring.unfinished() === 0) return;
    await waitUntil(
      ring.cells,
      WAIT_DONE,
      Infinity,
      () => ring.unfinished() === 0,
    );
  }
}

/**
 * A plain unbounded queue with just `put`, `get`, `empty` and `close`
 * (Python's `multiprocessing.SimpleQueue`). It shares the design of
 * {@linkcode Queue}; `put` never waits, so it is synchronous.
 *
 * @typeParam T The type of the items.
 *
 * @example Put and get
 * ```ts
 * import { SimpleQueue } from "@mp/multiprocessing/queue";
 * import assert from "node:assert/strict";
 *
 * const q = new SimpleQueue<number>();
 * q.put(1);
 * assert.equal(q.empty(), false);
 * assert.equal(await q.get(), 1);
 * assert.equal(q.empty(), true);
 * q.close();
 * ```
 */
export class SimpleQueue<T = unknown> {
  #queue: Queue<T>;

  /**
   * Makes an empty queue.
   *
   * @param options `maxMessageBytes`: the largest item a put takes.
   * @throws {RangeError} When `maxMessageBytes` is not a whole number from
   * 0 to 1 GiB less 6.
   *
   * @example A new queue is empty
   * ```ts
   * import { SimpleQueue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new SimpleQueue<string>().empty(), true);
   * ```
   */
  constructor(options?: QueueOptions) {
    this.#queue = new Queue<T>(0, options);
  }

  /**
   * Puts an item at the end of the queue.
   *
   * @param item The item; it is structured-cloned.
   * @throws {TypeError} When the item cannot be cloned or holds a primitive
   * of this library.
   * @throws {RangeError} When the item is larger than the queue's
   * `maxMessageBytes` (nothing is put).
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example Put never waits
   * ```ts
   * import { SimpleQueue } from "@mp/multiprocessing/queue";
   *
   * new SimpleQueue<string>().put("item");
   * ```
   */
  put(item: T): void {
    this.#queue.putSync(item);
  }

  /**
   * Takes the first item, waiting until there is one.
   *
   * @returns The item.
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example Get the first item
   * ```ts
   * import { SimpleQueue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new SimpleQueue<string>();
   * q.put("x");
   * assert.equal(await q.get(), "x");
   * ```
   */
  get(): Promise<T> {
    return this.#queue.get();
  }

  /**
   * See {@linkcode Queue}'s.
   *
   * @ignore
   */
  [giveBack](method: string, item: unknown): boolean {
    return this.#queue[giveBack](method, item);
  }

  /**
   * Whether the queue holds no item.
   *
   * @returns `true` when empty.
   * @throws {ProcessError} When the queue was closed in this process.
   *
   * @example A new queue is empty
   * ```ts
   * import { SimpleQueue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new SimpleQueue().empty(), true);
   * ```
   */
  empty(): boolean {
    return this.#queue.empty();
  }

  /**
   * Closes the queue in this process: further puts and gets here throw.
   *
   * @example A closed queue takes no more
   * ```ts
   * import { SimpleQueue } from "@mp/multiprocessing/queue";
   * import assert from "node:assert/strict";
   *
   * const q = new SimpleQueue();
   * q.close();
   * assert.throws(() => q.put(1), /closed/);
   * ```
   */
  close(): void {
    this.#queue.close();
  }

  /**
   * Hands the queue to another process; this handle stays usable.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    return { ...this.#queue[toWire](ctx), kind: SIMPLE };
  }
}

registerKind(QUEUE, (state) => revive(() => new Queue(), state));
registerKind(SIMPLE, (state) => revive(() => new SimpleQueue(), state));
registerKind(JOINABLE, (state) => revive(() => new JoinableQueue(), state));
registerSegmentClass(Queue);
registerSegmentClass(SimpleQueue);
