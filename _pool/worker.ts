// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What a Pool's child runs (Python's `multiprocessing.pool.worker`): run the
// initializer, then take chunks of tasks off the channel (a message holds
// one chunk or more), call the task function on each item in order, and send
// back one message of results per chunk as soon as the chunk is done. `null`
// tells the worker to end; an empty message is nothing to do. A message of
// plain data travels as JSON text either way (see toText in pack.ts).
import { type ErrorData, errorToData, quoteMessage } from "../_error.ts";
import type { Connection } from "../pipe.ts";
import {
  buffersOf,
  pack,
  type Packed,
  receivedPoolMessage,
  sendPoolMessage,
  tunePoolChannel,
  view,
} from "./pack.ts";
import type { TargetSpec } from "../_target.ts";
import { importChildTarget, inheritedStartMethod } from "../_backend/child.ts";
import { setImmediate } from "node:timers";
import { ProcessError } from "../errors.ts";

/** A chunk of tasks, as the pool sends it. */
export interface ChunkMessage {
  /** The chunk's id, echoed in its results. */
  id: number;
  /** The task function's key (its module and export). */
  fn: string;
  /** How to import the function; sent with the first chunk that uses it. */
  spec?: TargetSpec;
  /** Whether each item is an argument list (starmap) or one argument. */
  star: boolean;
  /** The tasks' arguments (packed when plain data). */
  items: Packed;
  /**
   * Set on a chunk sent to an idle worker: before running it, the worker
   * sends its id back ({@linkcode TakenMessage}), so that the pool knows
   * whether it ran should the worker die.
   */
  confirm?: true;
}

/** A chunk's id: the worker took that chunk and is starting it. */
export type TakenMessage = number;

/** The results of a chunk, as the worker sends them back. */
export interface ResultMessage {
  id: number;
  /** One result per item (packed when plain data); a failed item's is `undefined`. */
  results: Packed;
  /** The items that threw: their index in the chunk and their error. */
  errors?: [number, ErrorData][];
  /** How long the chunk ran, in milliseconds. */
  ms: number;
}

/** What a task sent with {@linkcode emit}, for the caller's `onEvent`. */
export interface EventMessage {
  /** The id of the chunk whose task sent it. */
  id: number;
  event: unknown;
}

/** Sent once, after the initializer ran. */
export interface ReadyMessage {
  ready: true;
}

type Fn = (...args: unknown[]) => unknown;

/** The chunk this worker runs now, and where its events go. */
let running: { channel: Connection; id: number } | undefined;

/**
 * Sends `value` from inside a pool task to the caller's `onEvent` (given to
 * `map`, `imap`, `apply`... or `submit`): progress of a long task, partial
 * results, log lines. Events of a task reach the caller before its result,
 * in the order they were sent. (workerpool's `workerEmit`; Python has no
 * equivalent, where a task would put on a `Queue`.)
 *
 * @param value What to send: anything the structured clone copies.
 * @returns Whether it was sent (`false` once the pool is gone).
 * @throws {ProcessError} When called outside a task of a pool.
 * @throws {TypeError} When `value` cannot be cloned.
 *
 * @example A task reports how far it got
 * ```ts
 * import { emit, Pool } from "@mp/multiprocessing/pool";
 * import assert from "node:assert/strict";
 *
 * const work = {
 *   module: "data:text/javascript," + encodeURIComponent(
 *     `import { emit } from "${import.meta.resolve("@mp/multiprocessing/pool")}";
 *      export function work(n) { for (let i = 1; i <= n; i++) emit(i); return n; }`,
 *   ),
 *   export: "work",
 * };
 * await using pool = new Pool({ processes: 1 });
 * const seen: unknown[] = [];
 * assert.equal(await pool.apply(work, [3], { onEvent: (e) => seen.push(e) }), 3);
 * assert.deepEqual(seen, [1, 2, 3]);
 * assert.throws(() => emit("not in a task"), /inside a task/);
 * ```
 */
export function emit(value: unknown): boolean {
  if (!running) {
    throw new ProcessError(
      "emit() sends to the caller of a pool task: call it inside a task the pool runs (its onEvent option receives it)",
    );
  }
  try {
    running.channel.send(
      { id: running.id, event: value } satisfies EventMessage,
    );
    return true;
  } catch (error) {
    if (error instanceof ProcessError) return false; // the pool is gone
    throw error;
  }
}

/** The buffers each value given to {@linkcode transfer} moves with. */
const moves = new WeakMap<object, ArrayBuffer[]>();

/**
 * Marks the result a pool task returns to be moved to the caller rather
 * than copied: `buffers` (the `ArrayBuffer`s in it, such as a typed
 * array's `.buffer`) are transferred, so a large result costs no copy, and
 * they are detached in the worker once sent (piscina's `Piscina.move`,
 * workerpool's `Transfer`). On the subprocess backend, where no memory
 * moves between OS processes, the result is copied as any other. Outside
 * a pool task it does nothing: the value is what it was.
 *
 * @typeParam T The result.
 * @param value What the task returns: the buffers, or data holding them.
 * @param buffers The `ArrayBuffer`s to move with it.
 * @returns `value` itself, marked.
 * @throws {TypeError} When `buffers` is not an array of `ArrayBuffer`s, or
 * `value` is a primitive (nothing in it can move).
 *
 * @example A task returns its samples without a copy
 * ```ts
 * import { Pool, transfer } from "@mp/multiprocessing/pool";
 * import assert from "node:assert/strict";
 *
 * const samples = {
 *   module: "data:text/javascript," + encodeURIComponent(
 *     `import { transfer } from "${import.meta.resolve("@mp/multiprocessing/pool")}";
 *      export function samples(n) {
 *        const out = new Float64Array(n).map((_, i) => i / 2);
 *        return transfer(out, [out.buffer]);
 *      }`,
 *   ),
 *   export: "samples",
 * };
 * await using pool = new Pool({ processes: 1 });
 * const got = await pool.apply(samples, [4]);
 * assert.deepEqual(got, new Float64Array([0, 0.5, 1, 1.5]));
 * ```
 */
export function transfer<T>(value: T, buffers: ArrayBuffer[]): T {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(
      `Cannot transfer a ${
        value === null ? "null" : typeof value
      }: transfer() moves the ArrayBuffers of an object (a buffer, a typed array, data holding them); return a primitive as it is`,
    );
  }
  if (
    !Array.isArray(buffers) ||
    !buffers.every((buffer) => buffer instanceof ArrayBuffer)
  ) {
    throw new TypeError(
      "The buffers to transfer must be an array of ArrayBuffers: pass a typed array's .buffer, not the typed array",
    );
  }
  moves.set(value, buffers);
  return value;
}

/**
 * Set in a pool worker, where `new Pool()` is refused (as Python refuses
 * children to daemonic processes): the usual cause is a module whose main
 * code is not guarded, run again when a worker imports its task function.
 */
export const IN_POOL_WORKER: unique symbol = Symbol.for(
  "multiprocessing.inPoolWorker",
) as never;

/**
 * The loop of a pool worker.
 *
 * @param channel The worker's end of its channel to the pool.
 * @param initializer Run once before any task, with `initArgs`.
 * @param initArgs The initializer's arguments.
 */
export async function poolWorker(
  channel: Connection,
  initializer: TargetSpec | null,
  initArgs: unknown[],
): Promise<void> {
  (globalThis as Record<symbol, unknown>)[IN_POOL_WORKER] = true;
  tunePoolChannel(channel);
  if (initializer) {
    const init = await importFunction(initializer, "initializer");
    await init(...initArgs);
  }
  try {
    channel.send({ ready: true } satisfies ReadyMessage);
  } catch (error) {
    if (error instanceof ProcessError) return; // The pool is gone already.
    throw error;
  }
  const functions = new Map<string, Fn | Error>();
  const waiter = new NextChunks(channel);
  loop: while (true) {
    let chunks: ChunkMessage[] | null;
    try {
      chunks = await waiter.next();
    } catch (error) {
      // EOF, or the pool closed its end: it is gone, and so is our work.
      if (error instanceof ProcessError) break;
      throw error;
    }
    if (chunks === null) break;
    for (const chunk of chunks) {
      if (chunk.confirm && !send(channel, chunk.id)) break loop;
      let fn = functions.get(chunk.fn);
      if (fn === undefined) {
        // A function that cannot be imported fails each of its tasks.
        fn = await importFunction(chunk.spec!, "task function").catch((
          error: unknown,
        ) => error instanceof Error ? error : new Error(String(error)));
        functions.set(chunk.fn, fn);
      }
      running = { channel, id: chunk.id };
      let outcome: Outcome;
      try {
        outcome = await runChunk(fn, chunk);
      } finally {
        running = undefined;
      }
      if (!sendResults(channel, outcome)) break loop;
    }
  }
  channel.close();
}

/** How long a busy worker's event loop may wait for a turn, in ms. */
const TURN_MS = 10;

/**
 * How a worker waits for its next chunks. Idle, it waits as any `await
 * recv()` does, its event loop running. Busy on the worker backend (it ran
 * a chunk, and the pool has not said it went idle), it blocks its thread on
 * `recvSync()` instead, as piscina's workers do: woken straight from
 * `Atomics.wait`, the next chunk starts tens of microseconds sooner than
 * after `Atomics.waitAsync` and the event loop's wake-up, which is most of
 * what a task costs when tasks are tiny. So that the event loop is not
 * starved (a timer an initializer set, the tail of a task's async work), a
 * busy worker gives it a turn at least every TURN_MS, and the pool sends an
 * empty batch to a worker it left idle for a while (see pool.ts), which
 * turns the worker back to waiting with its event loop running. A
 * subprocess child always waits the async way: its blocking receive goes
 * through its parent's agent where the pipe is not in shared memory.
 */
class NextChunks {
  #channel: Connection;
  #busy = false;
  #lastTurn = performance.now();
  #blocks = inheritedStartMethod() === "worker";

  constructor(channel: Connection) {
    this.#channel = channel;
  }

  async next(): Promise<ChunkMessage[] | null> {
    let message: unknown;
    if (this.#busy && this.#blocks) {
      if (performance.now() - this.#lastTurn > TURN_MS) await this.#turn();
      message = this.#channel.recvSync();
    } else {
      message = await this.#channel.recv();
      this.#lastTurn = performance.now();
    }
    // A batch of plain data comes as text (see toText in pack.ts).
    const chunks = receivedPoolMessage(message) as ChunkMessage[] | null;
    // An empty batch is the pool saying it left this worker idle.
    this.#busy = chunks !== null && chunks.length > 0;
    return chunks;
  }

  /** Lets the event loop run (timers, I/O) once. */
  async #turn(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.#lastTurn = performance.now();
  }
}

/**
 * Imports the task function or the initializer. A failed import of its
 * module is thrown as it is; a module that does not export it gives a
 * `TypeError` that says what to do.
 */
function importFunction(spec: TargetSpec, what: string): Promise<Fn> {
  return importChildTarget(spec, {
    noun: `the pool's ${what}`,
    importer: "a pool worker",
    option: "",
  });
}

/** A chunk's outcome before it is packed for the trip back. */
interface Outcome {
  id: number;
  results: unknown[];
  errors?: [number, ErrorData][];
  ms: number;
  /** The buffers its results move with (see {@linkcode transfer}). */
  transfer?: Set<ArrayBuffer>;
}

async function runChunk(
  fn: Fn | Error,
  message: ChunkMessage,
): Promise<Outcome> {
  const { id, star } = message;
  // Numbers are read from their Float64Array, not copied into an array.
  const items = view(message.items);
  const started = performance.now();
  const results = new Array(items.length);
  let errors: [number, ErrorData][] | undefined;
  let transfer: Set<ArrayBuffer> | undefined;
  for (let i = 0; i < items.length; i++) {
    try {
      if (fn instanceof Error) throw fn;
      let result = star ? fn(...items[i] as unknown[]) : fn(items[i]);
      // Awaiting only what is a promise keeps sync tasks off the microtask
      // queue: a chunk of tiny tasks runs as one tight loop.
      if (
        result !== null && typeof result === "object" &&
        typeof (result as PromiseLike<unknown>).then === "function"
      ) result = await result;
      results[i] = result;
      const buffers = typeof result === "object" && result !== null
        ? moves.get(result)
        : undefined;
      if (buffers) {
        transfer ??= new Set();
        for (const buffer of buffers) transfer.add(buffer);
      }
    } catch (error) {
      (errors ??= []).push([i, errorToData(error)]);
    }
  }
  const ms = performance.now() - started;
  const outcome: Outcome = errors
    ? { id, results, errors, ms }
    : { id, results, ms };
  if (transfer) outcome.transfer = transfer;
  return outcome;
}

/** Sends a message; returns `false` when the pool's end is closed. */
function send(channel: Connection, message: TakenMessage): boolean {
  try {
    channel.send(message);
    return true;
  } catch (error) {
    if (error instanceof ProcessError) return false;
    throw error;
  }
}

/**
 * Sends results; a result that cannot be cloned fails its own task only.
 * Returns `false` when the pool's end is closed (the pool was terminated).
 */
function sendResults(channel: Connection, outcome: Outcome): boolean {
  const { transfer, ...message } = outcome;
  let sendError: unknown;
  try {
    if (transfer) {
      // As they are, not packed: packing would copy the buffers that move.
      channel.send(message satisfies ResultMessage, {
        transfer: [...transfer].filter((buffer) => !buffer.detached),
      });
    } else {
      const results = pack(message.results);
      const packed: ResultMessage = { ...message, results };
      sendPoolMessage(channel, packed, buffersOf(results));
    }
    return true;
  } catch (error) {
    if (error instanceof ProcessError) return false;
    sendError = error;
  }
  const errors = outcome.errors ?? [];
  const before = errors.length;
  for (let i = 0; i < outcome.results.length; i++) {
    try {
      structuredClone(outcome.results[i]);
    } catch (cause) {
      outcome.results[i] = undefined;
      errors.push([
        i,
        errorToData(
          new TypeError(
            `The task's result cannot be sent to the pool: ${
              quoteMessage(cause)
            }; return data the structured clone copies`,
            { cause },
          ),
        ),
      ]);
    }
  }
  if (errors.length === before) throw sendError;
  try {
    channel.send({ ...message, errors } satisfies ResultMessage);
  } catch (error) {
    if (error instanceof ProcessError) return false;
    throw error;
  }
  return true;
}
