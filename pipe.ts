// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Two-way (or one-way) connections between processes: Python's
 * `multiprocessing.Pipe` and `Connection`.
 *
 * ```ts
 * import { Pipe } from "@mp/multiprocessing/pipe";
 * import { Process } from "@mp/multiprocessing/process";
 * import type { Connection } from "@mp/multiprocessing/pipe";
 *
 * export function myfunction(conn: Connection) {
 *   conn.send(["hi!! I am Python"]);
 *   conn.close();
 * }
 *
 * if (import.meta.main) {
 *   const [parentConn, childConn] = Pipe();
 *   const p = new Process({ target: myfunction, args: [childConn] });
 *   p.start();
 *   console.log(await parentConn.recv()); // [ "hi!! I am Python" ]
 *   await p.join();
 * }
 * ```
 *
 * How it works: each direction of a pipe has a small ring buffer in a
 * `SharedArrayBuffer` (the one `Queue` uses), and the pipe has a
 * `MessageChannel` and a block of shared counters. A number, boolean, null,
 * undefined or string up to 16 Ki characters is written into the ring as
 * bytes; any other message (but bytes: see below) is posted on the port (structured clone, and
 * transfer of the ports of `Connection`s inside it) and a mark takes its
 * place in the ring, which keeps the order. The sender then bumps a counter
 * and notifies. The receiver never listens for message events: it takes the
 * next record off the ring (and, for a mark, the message off its port with
 * `receiveMessageOnPort`), and when there is none it blocks for at most
 * 0.1 ms, then waits on the counter (`Atomics.waitAsync`, or
 * `Atomics.wait` in {@linkcode Connection.recvSync}). Bytes go through the
 * ring too, whatever their size: a byte message (`sendBytes`) under a tag of
 * its own, so that a receiver tells it from a value, and a message that is
 * an `ArrayBuffer` or a typed array as its bytes. A copy into shared memory
 * the ring keeps costs far less than the port's clone into fresh memory
 * (which revives a typed array element by element); so a large message is
 * posted only when it is an object, with each typed array in it sent as its
 * buffer and rebuilt, or when it transfers buffers. Unread messages stay
 * in the ring and the port, so an end passed to another process carries
 * them along, and an open connection does not keep its process alive. End
 * of file is "the peer is closed and its ring is empty", so no message in
 * flight is lost when the peer closes or its process ends.
 *
 * An end held by several processes: each end has a table of its holders'
 * pids in the control block (a slot is kept, under a token, for a process
 * the end was passed to until it takes it), and is closed once none is
 * left (a holder that ended without closing is dropped by whoever looks).
 * A port has one receiver, so the port goes along with a pass, and once a
 * second process holds an end, the end is marked shared: from then on no
 * message is posted to it, every message to it is written into its ring
 * as bytes (the ring's lock gives each reader whole records, each once),
 * and so is every message its holders without the port send. A mark
 * posted before that is left at the head of the ring for the holder of
 * the port.
 *
 * @module
 */
import v8 from "node:v8";
import { receiveMessageOnPort as nodeReceive } from "node:worker_threads";
import { atChildExit } from "./_backend/exit_hooks.ts";
import {
  checkMaxMessageBytes,
  encodeBytes,
  type Encoded,
  encodeItem,
  encodePlain,
  mark,
  MARKED,
  MAX_CAPACITY,
  messageSize,
  PREPARE_FROM,
  prepareBuffer,
  type Receipt,
  type RingState,
  SharedRing,
  sizeOf,
} from "./_shm/ring.ts";
import { checkRunning, identity, isAlive } from "./_shm/registry.ts";
import { deadlineOf } from "./_timeout.ts";
import {
  answerBrief,
  Brief,
  NO_SLEEPERS,
  type SleepOptions,
  SUCCEEDED,
  waitsWith,
  waitUntil,
  waitUntilSync,
} from "./_shm/futex.ts";
import {
  checkTransfer,
  decode,
  decodeSync,
  detachAll,
  encode,
  holdsShareable,
  holdsWireForms,
  markTransient,
  ownerEnded,
  registerKind,
  toWire,
  type WireContext,
  wireContext,
  type WireForm,
} from "./_wire.ts";
import { quoteMessage } from "./_error.ts";
import { fillTarget, intoTarget } from "./_bytes_into.ts";
import { EOFError, ProcessError } from "./errors.ts";

// Control block, per end (0 and 1), STRIDE Int32 cells at STRIDE * end:
const SHARED = 0; // 1 once more than one process held this end (see below)
const EVENTS = 1; // bumped on every send and on close: what a reader waits on
const CLOSED = 2; // 1 once every holder of this end closed it or ended
const HOLDERS = 4; // HOLDER_SLOTS cells: the pid of each holder, 0 if free
/** How many processes may hold one end at once. */
const HOLDER_SLOTS = 32;
const STRIDE = HOLDERS + HOLDER_SLOTS;
const CELLS = 2 * STRIDE;
/**
 * A holder slot kept for a process that an end was passed to holds a
 * negative token, unique to that pass, until the process takes the end.
 */
let passes = 0;
function passToken(): number {
  passes = (passes + 1) & 0x3fff;
  return -(1 + (((identity().pid & 0xffff) << 14) | passes));
}

/**
 * How long one wait lasts before the reader checks again whether the
 * process holding the peer end is still alive. This is only a safety net
 * for an end whose holder ended unnoticed (passed on over another pipe):
 * every normal path (close, a child's end, terminate) notifies at once.
 */
const LIVENESS_CHECK_MS = 250;
/** A string up to this length goes through the ring; a longer one is posted. */
const INLINE_STRING = 16 * 1024;
/**
 * A message this large or larger, sent or received, makes this end's next
 * receive spin as long as a request's answer (see `#waitOptions`): the peer
 * copies it out, and often answers with as much, which takes longer than a
 * plain receive spins (a 64 KiB echo, 20-30 µs), and a waiter that stopped
 * spinning pays a wake-up from a blocked thread (20-30 µs) on each side.
 */
const LONG_ANSWER_FROM = 16 * 1024;
/** How every structured-clone serialization (`node:v8`'s) begins. */
const SERIALIZED_HEADER = v8.serialize(null).subarray(0, 2);
/** Each direction's ring starts this small; it grows when messages pile up. */
const RING_BYTES = 4096;

const KIND = "multiprocessing.Connection";

/**
 * Takes the next message off a port synchronously. Deno accepts web
 * `MessagePort`s here; the node types only name node's own port class.
 */
const receiveMessageOnPort = nodeReceive as unknown as (
  port: MessagePort,
) => { message: unknown } | undefined;

/** Every open connection of this process, closed when a child ends. */
const live = new Set<Connection<unknown>>();
atChildExit(() => {
  for (const conn of [...live]) conn.close();
});

interface ConnectionState {
  /** The end's port; none for an end that several processes hold. */
  port?: MessagePort;
  /** The holder slot kept for the receiver, and its token, when passed. */
  kept?: { slot: number; token: number };
  control: SharedArrayBuffer;
  /** The ring of each end's messages, by end. */
  rings: [RingState, RingState];
  end: number;
  readable: boolean;
  writable: boolean;
  /** The largest message this end sends, in bytes. */
  maxMessageBytes: number;
}

/** Options of {@linkcode Connection.send}. */
export interface SendOptions {
  /**
   * `ArrayBuffer`s inside the message to move rather than copy, as with
   * `postMessage`: on the worker backend the receiver gets the memory
   * itself and each buffer is detached here. Where the message is copied
   * anyway (to a subprocess child), the buffers are accepted and copied.
   */
  transfer?: ArrayBuffer[];
}

let makeConnection: (state: ConnectionState) => Connection<unknown>;

/** What a take from the port found. */
/** What a take found: "prepare" is a large message left for a receipt. */
type Taken = Received | "none" | "prepare";
/**
 * A message, or the end of the pipe. A message is a value from the ring, a
 * value posted on the port (still in its wire form), or a byte message.
 */
type Received =
  | { message: unknown; form: "value" | "posted" | "bytes" }
  | "eof";
/**
 * Where a receive's attempt puts what it took; an async receive's attempt
 * that found a large message to make memory ready for leaves it unset.
 */
type Got = { taken?: Received };

/** Whether a value is sent as bytes in the ring rather than posted. */
function inline(value: unknown): boolean {
  switch (typeof value) {
    case "number":
    case "boolean":
    case "undefined":
      return true;
    case "string":
      return value.length <= INLINE_STRING;
    default:
      return value === null;
  }
}

/**
 * One end of a {@linkcode Pipe}: Python's `multiprocessing.connection.Connection`.
 *
 * Pass a connection to a child inside `Process` `args` (at any depth) or
 * inside a message on another connection: the receiving process gets a
 * working handle to the same end, and this handle stays usable, as in
 * Python. An end may be passed to many processes (up to 32 at once): many
 * writers into one end each write whole messages, and many readers of one
 * end each take whole messages, every message by exactly one of them.
 * The other end reads EOF once every process that holds the end closed it
 * or ended. A handle that was passed on holds the end again only once it is
 * used again: so, unlike Python, a child's end need not be closed in the
 * parent for the parent to see EOF when the child ends, and closing it
 * there (Python's habit) is harmless.
 *
 * @typeParam T The type of the messages.
 *
 * @example Send and receive in one process
 * ```ts
 * import { Pipe } from "@mp/multiprocessing/pipe";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = Pipe<string | number>();
 * a.send("hello");
 * a.send(42);
 * assert.equal(await b.recv(), "hello");
 * assert.equal(b.recvSync(), 42);
 * a.close();
 * b.close();
 * ```
 */
export class Connection<T = unknown> {
  #port: MessagePort | undefined;
  #control: SharedArrayBuffer;
  #cells: Int32Array;
  #end: number;
  #peer: number;
  #readable: boolean;
  #writable: boolean;
  #out: SharedRing;
  #in: SharedRing;
  #rings: [RingState, RingState];
  #maxMessageBytes: number;
  /** Closed in this process (by close(), or as its process ended). */
  #closed = false;
  /**
   * Whether this handle holds a slot of its end: it is given up when the
   * end is passed to another process, and taken again on the next use.
   */
  #active = false;
  /** The holder slot this handle holds, while active. */
  #slot = -1;
  /** The slot of the peer end where a holder was last seen. */
  #peerHolder = 0;
  /** The slots kept for the processes this handle was passed to. */
  #passedTo: { slot: number; token: number; receiver?: number }[] = [];
  /**
   * How a receive waits: a peer usually answers within microseconds, so it
   * spins and blocks briefly before it parks (see futex.ts).
   */
  #sleep: SleepOptions = { slice: LIVENESS_CHECK_MS, brief: new Brief() };
  /** How a receive waits after a large message (see LONG_ANSWER_FROM). */
  #sleepAfterLarge: SleepOptions | undefined;
  /** Whether the last message this handle sent or took was large. */
  #afterLarge = false;
  /** Whether `waitsWith` chose how receives wait (then it always holds). */
  #briefChosen = false;
  /** How an async receive takes a large message (see `Receipt`). */
  #receipt: Receipt = { prepareFrom: PREPARE_FROM };

  static {
    makeConnection = (state) => new Connection(state);
  }

  private constructor(state: ConnectionState) {
    this.#port = state.port;
    this.#control = state.control;
    this.#cells = new Int32Array(state.control);
    this.#end = state.end * STRIDE;
    this.#peer = (1 - state.end) * STRIDE;
    this.#peerHolder = this.#peer + HOLDERS;
    this.#readable = state.readable;
    this.#writable = state.writable;
    this.#rings = state.rings;
    this.#maxMessageBytes = state.maxMessageBytes;
    this.#out = new SharedRing(state.rings[state.end]);
    this.#in = new SharedRing(state.rings[1 - state.end]);
    this.#activate(state.kept);
  }

  /**
   * Makes this handle a holder of its end: in the slot kept for it, or in
   * a free one.
   */
  #activate(kept?: { slot: number; token: number }): void {
    const me = identity().pid;
    let slot = -1;
    if (kept) {
      slot = this.#end + HOLDERS + kept.slot;
      const was = Atomics.compareExchange(this.#cells, slot, kept.token, me);
      if (was !== kept.token) slot = -1;
    }
    if (slot < 0) slot = this.#claimSlot(me);
    this.#slot = slot;
    this.#active = true;
    live.add(this as Connection<unknown>);
  }

  /** Takes a free holder slot of this end for `value`. */
  #claimSlot(value: number): number {
    const first = this.#end + HOLDERS;
    for (let slot = first; slot < first + HOLDER_SLOTS; slot++) {
      if (Atomics.compareExchange(this.#cells, slot, 0, value) === 0) {
        return slot;
      }
    }
    throw new TypeError(
      `Cannot share this Connection end further: ${HOLDER_SLOTS} processes hold it already; close it in some of them, or make another Pipe()`,
    );
  }

  /**
   * Called on the first use of a handle that was passed to another
   * process: it holds its end again, beside the processes it was passed
   * to, so the end is shared from now on.
   */
  #reactivate(): void {
    this.#reopen();
    this.#activate();
    this.#share();
  }

  /**
   * Opens this end again if every process it was passed to has closed it
   * since: this handle was never closed, so (as a descriptor in Python) it
   * still holds the end.
   */
  #reopen(): void {
    Atomics.store(this.#cells, this.#end + CLOSED, 0);
  }

  /**
   * Marks this end as held by several processes: from now on nothing is
   * posted to it (a port has one receiver), every message to it goes
   * through its ring.
   */
  #share(): void {
    Atomics.store(this.#cells, this.#end + SHARED, 1);
  }

  /**
   * Whether this handle is closed. A handle passed to another process
   * stays open here: both processes hold the end, as in Python.
   *
   * @example Open until closed
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * assert.equal(a.closed, false);
   * a.close();
   * assert.equal(a.closed, true);
   * b.close();
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Whether this end can receive (`false` for the writer of a one-way pipe).
   *
   * @example Both ends of a duplex pipe receive
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * assert.equal(a.readable && b.readable, true);
   * a.close();
   * b.close();
   * ```
   */
  get readable(): boolean {
    return this.#readable;
  }

  /**
   * Whether this end can send (`false` for the reader of a one-way pipe).
   *
   * @example Only the writer of a one-way pipe sends
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [reader, writer] = Pipe({ duplex: false });
   * assert.equal(reader.writable, false);
   * assert.equal(writer.writable, true);
   * reader.close();
   * writer.close();
   * ```
   */
  get writable(): boolean {
    return this.#writable;
  }

  /**
   * Sends a value to the other end. It is structured-cloned; a primitive of
   * this library inside it (a `Connection`, a `Lock`, ...) arrives as a
   * working handle. Messages arrive in the order they were sent.
   *
   * @param value The message.
   * @param options `transfer`: `ArrayBuffer`s to move rather than copy (on
   * Workers the receiver gets the memory and they are detached here).
   * @throws {ProcessError} When this end is closed, is the reader of a
   * one-way pipe, or the other end is closed.
   * @throws {TypeError} When the value cannot be cloned (a function, for
   * example), or `transfer` holds something other than `ArrayBuffer`s.
   * @throws {RangeError} When the buffers in the message take more than the
   * pipe's `maxMessageBytes`; nothing is sent.
   *
   * @example Any structured-cloneable value
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [reader, writer] = Pipe({ duplex: false });
   * writer.send({ id: 1, tags: new Set(["a"]) });
   * assert.deepEqual(await reader.recv(), { id: 1, tags: new Set(["a"]) });
   * assert.throws(() => reader.send("no"), /read-only/);
   * reader.close();
   * writer.close();
   * ```
   *
   * @example Move a buffer instead of copying it
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * const samples = new Float64Array([0.5, 1.5]);
   * a.send(samples, { transfer: [samples.buffer] });
   * assert.equal(samples.length, 0); // detached: the memory moved
   * assert.deepEqual(await b.recv(), new Float64Array([0.5, 1.5]));
   * a.close();
   * b.close();
   * ```
   */
  send(value: T, options?: SendOptions): void {
    const port = this.#checkWritable("send");
    this.#checkPeerOpen();
    if (options === undefined && inline(value)) {
      this.#push(encodeItem(value));
      return;
    }
    const transfer = checkTransfer(options?.transfer);
    if (!port || Atomics.load(this.#cells, this.#peer + SHARED)) {
      this.#sendThroughRing(value, transfer);
      return;
    }
    if (transfer.length === 0) {
      if (inline(value)) {
        this.#push(encodeItem(value));
        return;
      }
      // Plain data, short: its text through the ring, as a queue's item.
      const plain = typeof value === "object" && value !== null
        ? encodePlain(value)
        : undefined;
      if (plain) {
        this.#push(plain);
        return;
      }
      const bytes = bufferBytes(value);
      if (bytes !== undefined) {
        // Copied into the ring: the port would copy it (a typed array
        // element by element) into fresh memory, twice.
        this.#checkSize(bytes);
        this.#push(encodeItem(value));
        return;
      }
    }
    const ctx = wireContext("worker");
    ctx.liftViews = true;
    const message = encode(value, ctx);
    this.#checkSize(ctx.bytes ?? 0);
    this.#post(port, message, [...ctx.transfer, ...transfer]);
  }

  /**
   * Sends a message through the ring whatever it is: the way of an end
   * that several processes hold (any of them may take the next message,
   * and only one could take it off a port).
   */
  #sendThroughRing(value: T, transfer: ArrayBuffer[]): void {
    if (holdsShareable(value)) {
      throw new TypeError(
        "Cannot send a primitive of this library (a Connection, a Lock...) over a pipe end that several processes hold: its messages are bytes in shared memory. Pass the primitive in Process args, or over a pipe of its own",
      );
    }
    const bytes = bufferBytes(value);
    if (bytes !== undefined) this.#checkSize(bytes);
    const record = encodeItem(value);
    this.#checkSize(messageSize(record));
    this.#push(record);
    detachAll(transfer);
  }

  #checkSize(bytes: number): void {
    if (bytes > this.#maxMessageBytes) {
      throw new RangeError(
        `Cannot send a message of ${bytes} bytes: this pipe takes messages up to ${this.#maxMessageBytes} bytes (its maxMessageBytes); send it in parts, or make the pipe with a larger maxMessageBytes`,
      );
    }
  }

  /**
   * Sends bytes as one message (Python's `send_bytes`).
   *
   * @param bytes The bytes; they are copied.
   * @param offset Where in `bytes` to start (default 0).
   * @param size How many bytes to send (default: to the end).
   * @throws {RangeError} When `offset` or `size` fall outside `bytes`, or
   * the message is longer than the pipe's `maxMessageBytes` (nothing is
   * sent).
   * @throws {ProcessError} As {@linkcode Connection.send}.
   *
   * @example A slice of a buffer
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * a.sendBytes(new TextEncoder().encode("hello world"), 6, 5);
   * assert.equal(new TextDecoder().decode(await b.recvBytes()), "world");
   * a.close();
   * b.close();
   * ```
   */
  sendBytes(
    bytes: ArrayBufferView | ArrayBuffer,
    offset?: number,
    size?: number,
  ): void {
    offset ??= 0;
    this.#checkWritable("sendBytes");
    const view = bytes instanceof ArrayBuffer
      ? new Uint8Array(bytes)
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!Number.isInteger(offset) || offset < 0 || offset > view.length) {
      throw new RangeError(
        `The offset must be a whole number from 0 to ${view.length} (the length of the bytes), got ${offset}`,
      );
    }
    const count = size ?? view.length - offset;
    if (!Number.isInteger(count) || count < 0 || offset + count > view.length) {
      throw new RangeError(
        `The size must be a whole number from 0 to ${
          view.length - offset
        } (the bytes after offset), got ${size}`,
      );
    }
    this.#checkPeerOpen();
    this.#checkSize(count);
    this.#push(encodeBytes(view.subarray(offset, offset + count)));
  }

  #checkPeerOpen(): void {
    if (Atomics.load(this.#cells, this.#peer + CLOSED)) {
      throw new ProcessError(
        "Cannot send: the other end of the pipe is closed (broken pipe); keep that end open while messages are sent to it",
      );
    }
  }

  /** Posts a message on the port and puts its mark in the ring. */
  #post(port: MessagePort, message: unknown, transfer: Transferable[]): void {
    try {
      port.postMessage(message, transfer);
    } catch (error) {
      if (error instanceof DOMException && error.name === "DataCloneError") {
        throw new TypeError(
          `Cannot send this value over a pipe: ${
            quoteMessage(error)
          }; send data the structured clone copies, or a primitive of this library`,
          { cause: error },
        );
      }
      throw error;
    }
    // The message is in the peer's port before its mark is in the ring.
    this.#push(mark());
  }

  #push(record: Encoded): void {
    if (!this.#out.tryPut(record, 0, false)) {
      throw new ProcessError(
        `Cannot send: more than ${MAX_CAPACITY} bytes of messages are waiting to be received; receive on the other end before sending more`,
      );
    }
    this.#afterLarge = sizeOf(record) >= LONG_ANSWER_FROM;
    Atomics.add(this.#cells, this.#end + EVENTS, 1);
    Atomics.notify(this.#cells, this.#end + EVENTS);
  }

  /**
   * Receives the next message, waiting for one without blocking the event
   * loop. A message sent with {@linkcode Connection.sendBytes} arrives as
   * a `Uint8Array`, or as the value its bytes serialize when they are what
   * {@linkcode Connection.recvBytes} gave for a message sent with `send()`.
   *
   * @returns The message.
   * @throws {EOFError} When the other end is closed (or its process ended)
   * and every message it sent was received.
   * @throws {ProcessError} When this end is closed or is the writer of a
   * one-way pipe.
   *
   * @example The last message, then EOF
   * ```ts
   * import { EOFError } from "@mp/multiprocessing/errors";
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * a.send("last words");
   * a.close();
   * assert.equal(await b.recv(), "last words");
   * await assert.rejects(b.recv(), EOFError);
   * b.close();
   * ```
   */
  async recv(): Promise<T> {
    const got: Got = {};
    const waiting = this.#wait("recv", got);
    if (waiting !== SUCCEEDED) await waiting;
    if (!got.taken) await this.#receiveLarge("recv", got);
    const { message, form } = this.#taken(got);
    switch (form) {
      case "value":
        return message as T;
      case "posted":
        return await decode(message) as T;
      case "bytes":
        return fromBytes(message as Uint8Array) as T;
    }
  }

  /**
   * Waits, without blocking, until the next message or EOF is in `got`:
   * `SUCCEEDED` when it is there at once (no promise to await then).
   */
  #wait(
    method: string,
    got: Got,
    receipt: Receipt = this.#receipt,
  ): ReturnType<typeof waitUntil> {
    return waitUntil(
      this.#cells,
      this.#peer + EVENTS,
      Infinity,
      this.#receiver(method, got, receipt),
      NO_SLEEPERS,
      this.#waitOptions(),
    );
  }

  /**
   * Receives a large message that a wait found: makes its memory ready in
   * steps, then takes it (or whatever came first, when another holder of
   * this end took it meanwhile).
   */
  async #receiveLarge(
    method: string,
    got: Got,
    receipt: Receipt = this.#receipt,
  ): Promise<void> {
    while (!got.taken) {
      receipt.into = await prepareBuffer(receipt.prepare!);
      const waiting = this.#wait(method, got, receipt);
      if (waiting !== SUCCEEDED) await waiting;
    }
  }

  /** The message a wait put in `got`; throws at EOF. */
  #taken(got: Got): Exclude<Received, "eof"> {
    const taken = got.taken!;
    if (taken === "eof") throw this.#eof();
    return taken;
  }

  /**
   * Receives the next message, blocking this thread (with `Atomics.wait`)
   * until one arrives. Prefer {@linkcode Connection.recv} in code that
   * should keep serving its event loop.
   *
   * @returns The message.
   * @throws {EOFError} As {@linkcode Connection.recv}.
   * @throws {ProcessError} As {@linkcode Connection.recv}.
   *
   * @example Receive, blocking the thread
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * b.send([1, 2, 3]);
   * assert.deepEqual(a.recvSync(), [1, 2, 3]);
   * a.close();
   * b.close();
   * ```
   */
  recvSync(): T {
    const got: Got = {};
    waitUntilSync(
      this.#cells,
      this.#peer + EVENTS,
      Infinity,
      this.#receiver("recvSync", got),
      NO_SLEEPERS,
      this.#waitOptions(),
    );
    const taken = got.taken!;
    if (taken === "eof") throw this.#eof();
    const { message, form } = taken;
    switch (form) {
      case "value":
        return message as T;
      case "posted":
        return decodeSync(message) as T;
      case "bytes":
        return fromBytes(message as Uint8Array) as T;
    }
  }

  /**
   * Receives the next message as bytes (Python's `recv_bytes`). A message
   * sent with {@linkcode Connection.sendBytes} gives its bytes; one sent
   * with {@linkcode Connection.send} gives its structured-clone
   * serialization (what `serialize` of `node:v8` makes, which its
   * `deserialize` reads back, as Python gives the pickle). Sent on with
   * `sendBytes()`, such bytes arrive at a `recv()` as the message itself.
   *
   * @param maxLength The largest message accepted; a longer one is
   * discarded and raises.
   * @returns The bytes.
   * @throws {RangeError} When the message is longer than `maxLength`.
   * @throws {TypeError} When the message holds a primitive of this library
   * (a `Connection`, a `Lock`...), which has no bytes: receive it with
   * `recv()`. The message is consumed either way.
   * @throws {EOFError} As {@linkcode Connection.recv}.
   *
   * @example Bytes in, bytes out
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * a.sendBytes(new Uint8Array([1, 2, 3]));
   * assert.deepEqual(await b.recvBytes(), new Uint8Array([1, 2, 3]));
   * a.close();
   * b.close();
   * ```
   *
   * @example The bytes of a sent message
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import { deserialize } from "node:v8";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * a.send({ n: 1 });
   * const bytes = await b.recvBytes();
   * assert.deepEqual(deserialize(bytes), { n: 1 });
   * b.sendBytes(bytes); // forwarded: it arrives as the message
   * assert.deepEqual(await a.recv(), { n: 1 });
   * a.close();
   * b.close();
   * ```
   */
  async recvBytes(maxLength?: number): Promise<Uint8Array> {
    if (maxLength !== undefined && (!(maxLength >= 0))) {
      throw new RangeError(
        `The maxLength of recvBytes() must be a number from 0 up, got ${maxLength}`,
      );
    }
    const got: Got = {};
    const waiting = this.#wait("recvBytes", got);
    if (waiting !== SUCCEEDED) await waiting;
    if (!got.taken) await this.#receiveLarge("recvBytes", got);
    const message = toBytes(this.#taken(got));
    if (maxLength !== undefined && message.length > maxLength) {
      throw new RangeError(
        `The message of ${message.length} bytes is longer than maxLength ${maxLength} and is dropped: pass a larger maxLength, or send shorter messages`,
      );
    }
    return message;
  }

  /**
   * Receives the next message as bytes into memory the caller holds
   * (Python's `recv_bytes_into`): a byte message is copied from the pipe's
   * shared memory straight into `buffer`, so that a loop receiving into
   * one buffer makes no memory per message. A message sent with
   * {@linkcode Connection.send} gives the bytes `recvBytes()` gives.
   *
   * @param buffer Where to write: an `ArrayBuffer`, a `SharedArrayBuffer`,
   * or any view of one (a typed array of any element size, a `DataView`).
   * @param offset Where in `buffer` to start, in bytes (default 0): a
   * whole number from 0 to its length in bytes.
   * @returns The length of the message in bytes.
   * @throws {TypeError} When `buffer` is none of those; or as
   * {@linkcode Connection.recvBytes}.
   * @throws {RangeError} When `offset` is out of range. Bad arguments throw
   * before any message is taken.
   * @throws {BufferTooShort} When the message is longer than the room from
   * `offset` to the end of `buffer`: it is taken all the same, and is on
   * the error (`bytes`); the next receive gets the next message.
   * @throws {EOFError} As {@linkcode Connection.recv}.
   * @throws {ProcessError} As {@linkcode Connection.recv}.
   *
   * @example One buffer for every message
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * a.sendBytes(new Uint8Array([1, 2, 3]));
   * a.sendBytes(new Uint8Array([4, 5]));
   * const buffer = new Uint8Array(8);
   * assert.equal(await b.recvBytesInto(buffer), 3);
   * assert.equal(await b.recvBytesInto(buffer, 3), 2);
   * assert.deepEqual(buffer.subarray(0, 5), new Uint8Array([1, 2, 3, 4, 5]));
   * a.close();
   * b.close();
   * ```
   *
   * @example A message that does not fit
   * ```ts
   * import { BufferTooShort } from "@mp/multiprocessing/errors";
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * a.sendBytes(new Uint8Array(100));
   * await assert.rejects(b.recvBytesInto(new Float64Array(4)), (error) => {
   *   assert(error instanceof BufferTooShort);
   *   assert.equal(error.bytes.length, 100); // the message, whole
   *   return true;
   * });
   * a.close();
   * b.close();
   * ```
   */
  async recvBytesInto(
    buffer: ArrayBufferLike | ArrayBufferView,
    offset?: number,
  ): Promise<number> {
    const target = intoTarget(buffer, offset, "recvBytesInto");
    // A receipt of its own: its target is this call's, whatever other
    // receives of this end wait meanwhile.
    const receipt: Receipt = { prepareFrom: PREPARE_FROM, target };
    const got: Got = {};
    const waiting = this.#wait("recvBytesInto", got, receipt);
    if (waiting !== SUCCEEDED) await waiting;
    if (!got.taken) await this.#receiveLarge("recvBytesInto", got, receipt);
    const taken = this.#taken(got);
    if (receipt.written !== undefined) return receipt.written;
    // A message sent with send(), whose bytes are its serialization (made
    // here, as for recvBytes()), or a byte message that did not fit.
    return fillTarget(target, toBytes(taken));
  }

  /**
   * Whether {@linkcode Connection.recv} would return without waiting: a
   * message is waiting, or (as in Python) the other end is closed so that
   * `recv()` would raise `EOFError` at once.
   *
   * @param timeout Milliseconds to wait for that; with no argument 0 (just
   * look), and an explicit `undefined` waits forever, as Python's `None`.
   * @returns `true` when a message (or EOF) is waiting, `false` on timeout.
   * @throws {RangeError} When `timeout` is negative or not a number.
   * @throws {ProcessError} When this end is closed or is the writer of a
   * one-way pipe.
   *
   * @example Look, then wait a while
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * assert.equal(await b.poll(), false);
   * a.send("ping");
   * assert.equal(await b.poll(10), true);
   * a.close();
   * b.close();
   * ```
   */
  poll(timeout?: number): Promise<boolean> {
    // As in Python, no argument means 0 and an explicit `undefined` forever.
    return this.#poll(arguments.length === 0 ? 0 : timeout);
  }

  async #poll(timeout: number | undefined): Promise<boolean> {
    const deadline = deadlineOf(timeout);
    return await waitUntil(
      this.#cells,
      this.#peer + EVENTS,
      deadline,
      () => {
        this.#checkReadable("poll");
        return this.#waiting();
      },
      NO_SLEEPERS,
      { slice: LIVENESS_CHECK_MS },
    );
  }

  /**
   * Closes this end. The other end reads every message already sent, then
   * gets `EOFError`. Closing twice, or closing a handle that was passed to
   * another process, does nothing.
   *
   * @example A closed end cannot send
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * a.close();
   * assert.equal(a.closed, true);
   * assert.throws(() => a.send(1), /closed/);
   * b.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const port = this.#port;
    this.#port = undefined;
    if (this.#active) this.#release();
    this.#wakeOwnWaiters();
    port?.close();
  }

  /** Gives up this handle's slot; the last holder's leaving closes the end. */
  #release(): void {
    this.#active = false;
    live.delete(this as Connection<unknown>);
    Atomics.compareExchange(this.#cells, this.#slot, identity().pid, 0);
    this.#slot = -1;
    this.#closeIfUnheld(this.#end);
  }

  /**
   * Closes this end when a `using` block ends.
   *
   * @example Closed at the end of the scope
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import { EOFError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const [a, b] = Pipe();
   * {
   *   using writer = a;
   *   writer.send("bye");
   * }
   * assert.equal(await b.recv(), "bye");
   * await assert.rejects(b.recv(), EOFError);
   * b.close();
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Receives messages until the other end is closed and drained.
   *
   * @example Read until the writer is closed
   * ```ts
   * import { Pipe } from "@mp/multiprocessing/pipe";
   * import assert from "node:assert/strict";
   *
   * const [reader, writer] = Pipe<number>({ duplex: false });
   * for (const n of [1, 2, 3]) writer.send(n);
   * writer.close();
   * const got = [];
   * for await (const n of reader) got.push(n);
   * assert.deepEqual(got, [1, 2, 3]);
   * reader.close();
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      try {
        yield await this.recv();
      } catch (error) {
        if (error instanceof EOFError) return;
        throw error;
      }
    }
  }

  /** Checks that this end can receive. */
  #checkReadable(method: string): void {
    checkRunning();
    if (this.#closed) throw this.#closedError(method);
    if (!this.#active) this.#reactivate();
    if (!this.#readable) {
      throw new ProcessError(
        `Cannot ${method}(): this connection is write-only (the writer of Pipe({ duplex: false })); receive on the other end`,
      );
    }
  }

  /**
   * The attempt of a receive: takes the next message or EOF into `got`, if
   * either is waiting. A receive waits forever, so once its wait returned,
   * `got.taken` is set.
   */
  #receiver(method: string, got: Got, receipt?: Receipt): () => boolean {
    return () => {
      this.#checkReadable(method);
      const taken = this.#take(receipt);
      if (taken === "none") return false;
      if (taken !== "prepare") got.taken = taken;
      return true;
    };
  }

  /** Checks that this end can send; returns its port, if it has one. */
  #checkWritable(method: string): MessagePort | undefined {
    checkRunning();
    if (this.#closed) throw this.#closedError(method);
    if (!this.#active) this.#reactivate();
    if (!this.#writable) {
      throw new ProcessError(
        `Cannot ${method}(): this connection is read-only (the reader of Pipe({ duplex: false })); send on the other end`,
      );
    }
    return this.#port;
  }

  #closedError(method: string): ProcessError {
    return new ProcessError(
      `Cannot ${method}(): the connection is closed; close() it only once done with it`,
    );
  }

  #eof(): EOFError {
    return new EOFError(
      "The other end of the pipe is closed and every message it sent was received: stop receiving (a for await loop stops by itself)",
    );
  }

  /** Whether a message or EOF is waiting. */
  #waiting(): boolean {
    return this.#in.count() > 0 || this.#peerClosed();
  }

  #peerClosed(): boolean {
    const cells = this.#cells;
    if (Atomics.load(cells, this.#peer + CLOSED)) return true;
    // Usually the holder found last time still holds it: one look.
    const holder = Atomics.load(cells, this.#peerHolder);
    if (holder > 0 && isAlive(holder)) return false;
    return this.#closeIfUnheld(this.#peer);
  }

  /**
   * Marks `end` closed when no process holds it any more (a holder that
   * ended without closing it gives up its slot here).
   *
   * @returns Whether it is closed.
   */
  #closeIfUnheld(end: number): boolean {
    const cells = this.#cells;
    const first = end + HOLDERS;
    for (let slot = first; slot < first + HOLDER_SLOTS; slot++) {
      const holder = Atomics.load(cells, slot);
      if (holder === 0) continue;
      if (holder < 0 || isAlive(holder)) {
        if (end === this.#peer) this.#peerHolder = slot;
        return false;
      }
      Atomics.compareExchange(cells, slot, holder, 0);
    }
    this.#markClosed(end);
    return true;
  }

  #take(receipt?: Receipt): Taken {
    // Closed is read first: a peer that closed had put all it sent.
    const closed = this.#peerClosed();
    const port = this.#port;
    if (receipt) receipt.prepare = receipt.written = undefined;
    const got = this.#in.tryGet(port !== undefined, receipt);
    if (receipt?.prepare !== undefined) return "prepare";
    // Memory made ready is for one message: the next may be another size.
    if (got && receipt?.into) receipt.into = undefined;
    if (got) {
      const written = receipt?.written;
      const size = written ?? bufferBytes(got.value) ?? 0;
      this.#afterLarge = size >= LONG_ANSWER_FROM;
      // Written into the caller's memory, which stays the caller's.
      if (written !== undefined) return { message: got.value, form: "bytes" };
      // A large message's bytes were copied out for this receive alone.
      if (got.bytes) {
        return { message: markTransient(got.value), form: "bytes" };
      }
      if (got.value === MARKED) {
        return { message: this.#fromPort(), form: "posted" };
      }
      return { message: markTransient(got.value), form: "value" };
    }
    if (!closed) return "none";
    if (!port) {
      // What is left, if anything, is a mark for the holder of the port.
      return this.#in.count() > 0 ? "none" : "eof";
    }
    // A peer that ended between posting and marking left one unmarked.
    const last = receiveMessageOnPort(port);
    return last ? { message: last.message, form: "posted" } : "eof";
  }

  /** The posted message a mark stands for; posted before it was marked. */
  #fromPort(): unknown {
    for (let tries = 0;; tries++) {
      const got = receiveMessageOnPort(this.#port!);
      if (got) return got.message;
      if (tries > 1000) {
        throw new ProcessError(
          "A message marked in the pipe's ring is missing from its port: this is a bug of the library, please report it",
        );
      }
    }
  }

  /** Wakes this end's pending waits, so they see it is closed or moved. */
  #wakeOwnWaiters(): void {
    Atomics.notify(this.#cells, this.#peer + EVENTS);
  }

  #markClosed(end: number): void {
    const cells = this.#cells;
    Atomics.store(cells, end + CLOSED, 1);
    Atomics.add(cells, end + EVENTS, 1);
    Atomics.notify(cells, end + EVENTS);
  }

  /**
   * Makes this handle's receives wait as `brief` says (before they block
   * or park): a pool's channels spin longer than other pipes, for a peer
   * that answers within tens of microseconds.
   *
   * @ignore
   */
  [waitsWith](brief: Brief): void {
    this.#sleep = { ...this.#sleep, brief };
    this.#briefChosen = true;
  }

  /**
   * How the next receive waits: after a large message, spinning as long as
   * for an answer (see LONG_ANSWER_FROM; it rests its spins while they run
   * out, as for a peer that answers slowly or shares this core).
   */
  #waitOptions(): SleepOptions {
    if (!this.#afterLarge || this.#briefChosen) return this.#sleep;
    return this.#sleepAfterLarge ??= { ...this.#sleep, brief: answerBrief() };
  }

  /**
   * Hands this end to another process (its ports, with every unread
   * message, are transferred); this handle is closed here.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    if (this.#closed) {
      throw new TypeError(
        "Cannot pass a closed Connection to another process: pass an end that is open",
      );
    }
    if (!this.#active) this.#reopen();
    const token = passToken();
    const slot = this.#claimSlot(token);
    this.#passedTo.push({ slot, token, receiver: ctx.receiver });
    // The port, with every message posted to this end, goes along; a
    // second holder of the end has none, so the end is shared.
    const port = this.#port;
    this.#port = undefined;
    if (port) ctx.transfer.push(port);
    else this.#share();
    // This process holds the end again on its next use of this handle.
    if (this.#active) this.#release();
    const state: ConnectionState = {
      port,
      kept: { slot: slot - this.#end - HOLDERS, token },
      control: this.#control,
      rings: this.#rings,
      end: this.#end / STRIDE,
      readable: this.#readable,
      writable: this.#writable,
      maxMessageBytes: this.#maxMessageBytes,
    };
    return { kind: KIND, module: import.meta.url, state };
  }

  /**
   * Called when the child this end was passed to has ended: unless the end
   * moved on, it is closed, so that the peer sees EOF.
   *
   * @ignore
   */
  [ownerEnded](pid: number): void {
    const cells = this.#cells;
    // The slot kept for that child holds its pid while it holds the end,
    // 0 (or another holder) once it closed it, and still the pass's token
    // if it ended before taking it.
    const entries = this.#passedTo;
    // A pass to a child's start knows its receiver: no guess.
    const own = entries.filter(({ receiver }) => receiver === pid);
    if (own.length > 0) {
      for (const { slot, token } of own) {
        Atomics.compareExchange(cells, slot, pid, 0);
        Atomics.compareExchange(cells, slot, token, 0);
      }
      this.#passedTo = entries.filter((entry) => !own.includes(entry));
      this.#closeIfUnheld(this.#end);
      return;
    }
    let index = entries.findIndex(({ slot }) =>
      Atomics.load(cells, slot) === pid
    );
    if (index >= 0) {
      Atomics.compareExchange(cells, entries[index].slot, pid, 0);
      entries.splice(index, 1);
    } else {
      const taken = entries.filter(({ slot, token }) =>
        Atomics.load(cells, slot) !== token
      );
      this.#passedTo = entries.filter((entry) => !taken.includes(entry));
      // With none taken, the child never took the end: free its slot (the
      // oldest pass still in transit, a guess when several are).
      index = taken.length === 0 ? 0 : -1;
      const entry = this.#passedTo[index];
      if (entry) {
        Atomics.compareExchange(cells, entry.slot, entry.token, 0);
        this.#passedTo.splice(index, 1);
      }
    }
    this.#closeIfUnheld(this.#end);
  }
}

registerKind(KIND, (state) => makeConnection(state as ConnectionState));

/**
 * The bytes of a value that is an `ArrayBuffer` or a typed array over one
 * (a message the ring takes as its bytes), else `undefined`.
 */
function bufferBytes(value: unknown): number | undefined {
  if (value instanceof ArrayBuffer) return value.byteLength;
  if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) {
    return value.byteLength;
  }
  return undefined;
}

/**
 * What `recv()` gives for a byte message: the value, when the bytes are a
 * structured-clone serialization (what `recvBytes()` gives for a message
 * sent with `send()`), else the bytes.
 */
function fromBytes(bytes: Uint8Array): unknown {
  if (
    bytes.length > 2 && bytes[0] === SERIALIZED_HEADER[0] &&
    bytes[1] === SERIALIZED_HEADER[1]
  ) {
    try {
      return v8.deserialize(bytes);
    } catch {
      // Bytes that only begin like a serialization: they stay bytes.
    }
  }
  return bytes;
}

/**
 * What `recvBytes()` gives for a message: a byte message's bytes, or the
 * structured-clone serialization of a message sent with `send()`.
 */
function toBytes(received: Exclude<Received, "eof">): Uint8Array {
  const { message, form } = received;
  if (form === "bytes") return message as Uint8Array;
  if (form === "posted" && holdsWireForms(message)) {
    throw new TypeError(
      "The message holds a primitive of this library (a Connection, a Lock...), which has no bytes, and is dropped: receive such messages with recv()",
    );
  }
  return v8.serialize(form === "posted" ? decodeSync(message) : message);
}

/**
 * Returns `port` moved through a carrier channel. Deno (2.9) links the two
 * port objects of one `MessageChannel` in the thread that made them: when
 * one is closed there, the other drops the first message still queued in
 * it. A moved port is a new object without that link, so closing either
 * end loses nothing.
 */
function detachFromPeer(port: MessagePort): MessagePort {
  const carrier = new MessageChannel();
  carrier.port1.postMessage(port, [port]);
  const moved = receiveMessageOnPort(carrier.port2)!.message as MessagePort;
  carrier.port1.close();
  carrier.port2.close();
  return moved;
}

/** Options of {@linkcode Pipe}. */
export interface PipeOptions {
  /**
   * `true` (default): both ends send and receive. `false`: the first end
   * only receives and the second only sends.
   */
  duplex?: boolean;
  /**
   * The largest message, in bytes, either end sends (of a message sent
   * with `send()`, the bytes of its buffers); a larger one is a
   * `RangeError` at the sender, and the pipe goes on. Default and most:
   * 1 GiB less 6 bytes, what the pipe's shared buffer holds.
   */
  maxMessageBytes?: number;
}

/**
 * Makes a pipe: a pair of connected {@linkcode Connection}s (Python's
 * `multiprocessing.Pipe`).
 *
 * @typeParam T The type of the messages.
 * @param options `true`/`false` or `{ duplex }`: whether both ends can send
 * (default `true`). With `false` the pair is `[reader, writer]`.
 * @returns The two ends.
 *
 * @example A one-way pipe
 * ```ts
 * import { Pipe } from "@mp/multiprocessing/pipe";
 * import assert from "node:assert/strict";
 *
 * const [reader, writer] = Pipe<string>({ duplex: false });
 * assert.equal(reader.writable, false);
 * assert.equal(writer.readable, false);
 * writer.send("one way");
 * assert.equal(await reader.recv(), "one way");
 * reader.close();
 * writer.close();
 * ```
 */
export function Pipe<T = unknown>(
  options?: boolean | PipeOptions,
): [Connection<T>, Connection<T>] {
  const duplex = typeof options === "boolean"
    ? options
    : options?.duplex ?? true;
  const maxMessageBytes = checkMaxMessageBytes(
    typeof options === "object" ? options.maxMessageBytes : undefined,
    "Pipe",
  );
  const { port1, port2: entangled } = new MessageChannel();
  const port2 = detachFromPeer(entangled);
  const control = new SharedArrayBuffer(CELLS * 4);
  const rings: [RingState, RingState] = [
    new SharedRing(undefined, RING_BYTES).state,
    new SharedRing(undefined, RING_BYTES).state,
  ];
  const a = makeConnection({
    port: port1,
    control,
    rings,
    end: 0,
    readable: true,
    writable: duplex,
    maxMessageBytes,
  });
  const b = makeConnection({
    port: port2,
    control,
    rings,
    end: 1,
    readable: duplex,
    writable: true,
    maxMessageBytes,
  });
  return [a as Connection<T>, b as Connection<T>];
}
