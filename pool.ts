// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * A pool of worker processes that runs a function over many inputs in
 * parallel: Python's `multiprocessing.Pool`.
 *
 * Tasks travel in chunks: a worker gets a run of inputs in one message and
 * sends back their results in one message, and each worker holds a second
 * chunk while it runs the first, so it never idles waiting for work. That is
 * what lets many tiny tasks run at millions a second, where a pool that sends
 * one task at a time spends its time on messages.
 *
 * As with {@linkcode Process}, a task function is passed by reference: it
 * must be exported by its module (the worker imports it by name), or be
 * named explicitly as `{ module, export }`.
 *
 * ```ts
 * import { Pool } from "@mp/multiprocessing/pool";
 *
 * export function square(x: number): number {
 *   return x * x;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 * }
 * ```
 *
 * @module
 */
import { checkBootstrapped, joinQuietly } from "./_backend/child.ts";
import { dataToError, quoteMessage } from "./_error.ts";
import { setImmediate } from "node:timers";
import {
  type Chunk,
  type Job,
  ListJob,
  type Progress,
  type Span,
  STARRED,
  StreamJob,
} from "./_pool/job.ts";
import { Future } from "./_pool/future.ts";
import { deadlineOf, onDeadline } from "./_timeout.ts";
import { holdEventLoop, unrefTimer } from "./_deno_compat.ts";
import {
  buffersOf,
  pack,
  receivedPoolMessage,
  sendPoolMessage,
  tunePoolChannel,
} from "./_pool/pack.ts";
import {
  type ChunkMessage,
  type EventMessage,
  IN_POOL_WORKER,
  type ReadyMessage,
  type ResultMessage,
  type TakenMessage,
} from "./_pool/worker.ts";
import {
  callerModule,
  internalModule,
  resolveTarget,
  type TargetSpec,
} from "./_target.ts";
import { EOFError, ProcessError, TimeoutError } from "./errors.ts";
import { isAlive } from "./_shm/registry.ts";
import { type Connection, Pipe } from "./pipe.ts";
import { type Backend, cpuCount, Process, type TargetRef } from "./process.ts";

internalModule(import.meta.url);

export type { Backend, TargetRef } from "./process.ts";
export type { Progress } from "./_pool/job.ts";
export { emit, transfer } from "./_pool/worker.ts";
export { Future } from "./_pool/future.ts";

/** A task function: an exported function, or its module and export name. */
// deno-lint-ignore no-explicit-any
export type PoolFunction<A extends any[], R> = ((...args: A) => R) | TargetRef;

/** Options of {@linkcode Pool}. */
export interface PoolOptions {
  /** How many worker processes to run (default {@linkcode cpuCount}). */
  processes?: number;
  /** Run once in each worker before its first task (an exported function). */
  // deno-lint-ignore no-explicit-any
  initializer?: PoolFunction<any[], unknown>;
  /** The initializer's arguments. */
  initArgs?: unknown[];
  /**
   * Replace a worker after it ran this many tasks (default: never). Unlike
   * Python, which counts a chunk as one task, this counts each call: a
   * chunk is split so that no worker runs more.
   */
  maxTasksPerChild?: number;
  /** `"worker"` or `"subprocess"` (default: the start method). */
  backend?: Backend;
}

/** Options of {@linkcode Pool.map} and its siblings. */
export interface MapOptions {
  /**
   * How many tasks go to a worker at a time: one worker runs them in order
   * (more than 8192 travel in several messages). `map` and `starmap`
   * default to Python's rule (about four chunks per worker); `imap` and
   * `imapUnordered` to 1.
   */
  chunksize?: number;
  /**
   * Aborting it drops the tasks not yet sent to a worker and rejects (or
   * ends the iteration) with `signal.reason`; tasks already sent run to
   * their end, their results unused, unless `stopRunning` is set.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds the whole call may take (default: no limit): past it the
   * call fails with a {@linkcode TimeoutError}, and the workers still
   * running its tasks are stopped and replaced, so the tasks really stop.
   */
  timeout?: number;
  /**
   * Whether aborting `signal` also stops the workers running the call's
   * tasks (and replaces them), as a timeout does (default `false`).
   */
  stopRunning?: boolean;
  /**
   * Told how far the call got (`{ done, total, elapsedMs }`): every 100 ms
   * at most while tasks finish, and once when the last one did.
   */
  onProgress?: (progress: Progress) => void;
  /** Given each value the call's tasks send with {@linkcode emit}. */
  onEvent?: (value: unknown) => void;
}

/** Options of {@linkcode Pool.applyAsync}. */
export interface ApplyOptions<R> {
  /** Called with the result, before the promise resolves. */
  callback?: (result: R) => void;
  /** Called with the error, before the promise rejects. */
  errorCallback?: (error: unknown) => void;
  /**
   * Aborting it drops the task if it was not yet sent to a worker; a
   * running task runs to its end, unless `stopRunning` is set.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds the task may take (default: no limit): past it the call
   * fails with a {@linkcode TimeoutError}, and the worker running it is
   * stopped and replaced, so the task really stops.
   */
  timeout?: number;
  /**
   * Whether aborting `signal` also stops the worker running the task (and
   * replaces it), as a timeout does (default `false`).
   */
  stopRunning?: boolean;
  /** Given each value the task sends with {@linkcode emit}. */
  onEvent?: (value: unknown) => void;
}

/**
 * A call's arguments then its options: the arguments may be left out only
 * when the function takes none, so that `pool.apply(add)` is a type error.
 */
// deno-lint-ignore no-explicit-any
export type CallArgs<A extends any[], O> = [] extends A
  ? [args?: A, options?: O]
  : [args: A, options?: O];

/** The options of a call, as the pool keeps them with its job. */
type CallOptions = Pick<
  MapOptions,
  "signal" | "timeout" | "stopRunning" | "onProgress" | "onEvent"
>;

/**
 * Chunks a worker holds at least: one running, one waiting behind it, so it
 * never idles while its next chunk travels.
 */
const IN_FLIGHT = 2;
/** Chunks a worker holds at most (when they are tiny). */
const MAX_IN_FLIGHT = 64;
/**
 * Milliseconds of work a worker should have queued to cover a result's trip
 * back and the next chunk's trip out. Fast chunks earn a deeper window (more
 * of them in flight), slow ones keep two, so the last tasks of a job do not
 * wait behind a busy worker while another one idles.
 */
const COVER_MS = 0.5;
/**
 * The most tasks that travel in one message. A larger chunk goes to its
 * worker in pieces of this size, so that packing a message, and unpacking
 * and delivering its results, is a short stretch of work (about a
 * millisecond for numbers) however large the chunk.
 */
const PIECE = 8192;
/**
 * How long the pool works through its queue or its workers' results before
 * it lets the event loop run (timers, I/O, the caller's other work).
 */
const SLICE_MS = 10;
/**
 * How long a worker that was busy stays idle before the pool tells it so (an
 * empty batch), so that it waits for work with its event loop running again.
 */
const COOL_MS = 5;
/**
 * How many workers may be starting (not yet ready) at once, for each CPU:
 * the rest start as those get ready. Starting a Worker blocks the thread
 * that starts it until the new thread has set up its runtime, which takes
 * ever longer while many others are loading their modules on the same
 * CPUs: a pool of 150 Workers started at once on 2 CPUs blocked the event
 * loop for 20 s, and ended up no sooner than started a few at a time.
 */
const STARTING_PER_CPU = 2;
/**
 * How often the pool looks for a starting worker's ready message while it
 * has nothing else to read from that worker (reading would keep the
 * program alive, which an idle pool must not do).
 */
const STARTING_LOOK_MS = 5;
/** What every worker runs. */
const WORKER_TARGET: TargetRef = {
  module: new URL("./_pool/worker.ts", import.meta.url),
  export: "poolWorker",
};

let workerCount = 0;

/** When the pool's loops last let the event loop run. */
let lastTurn = 0;

/** Lets the event loop run (timers, I/O), then goes on. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) =>
    setImmediate(() => {
      lastTurn = performance.now();
      resolve();
    })
  );
}

/** A worker as the pool sees it. */
interface Slot {
  process: Process;
  channel: Connection;
  /** Chunks sent and not yet answered, in the order sent. */
  inflight: Chunk[];
  /** The rest of the chunk it is given piece by piece. */
  reserved: Span | undefined;
  /**
   * The chunk sent while it was idle, until it confirms taking it: should
   * it die before, that chunk never ran.
   */
  unconfirmed: Chunk | undefined;
  /** Tasks sent to it so far. */
  assigned: number;
  /** The task functions it has been told how to import. */
  known: Set<string>;
  /** Recent time a chunk takes there, in ms (`undefined` until measured). */
  chunkMs: number | undefined;
  /** Whether its initializer ran. */
  ready: boolean;
  /**
   * Whether it takes no more work: it ends after what it holds, or it is
   * gone (its process ended or its channel closed).
   */
  retiring: boolean;
  /** Whether it was told to end (or is gone, so it needs no telling). */
  exitSent: boolean;
  /** Settles when it ended and its tasks were accounted for. */
  ended: Promise<void>;
  /** Wakes its reader, which waits while the worker is idle. */
  wake: (() => void) | undefined;
  /**
   * Whether it was sent work since it was last told it is idle: such a
   * worker may wait for more with its thread blocked (see _pool/worker.ts).
   */
  busy: boolean;
  /** When its last result came. */
  lastResult: number;
  /** The timer that tells it it is idle, once it was for COOL_MS. */
  coolTimer: ReturnType<typeof setTimeout> | undefined;
}

type State = "run" | "close" | "terminate";

/** What a worker sends: its results come as text when they are plain data. */
type FromWorker =
  | ResultMessage
  | ReadyMessage
  | TakenMessage
  | EventMessage
  | string;

/** What one pump gives a worker: chunks, and their messages. */
interface Batch {
  chunks: Chunk[];
  messages: ChunkMessage[];
  /** The task functions the worker learns of in these messages. */
  added: string[];
}

/**
 * A pool of worker processes: Python's `multiprocessing.Pool`.
 *
 * Task functions go by reference: a worker imports the module that exports
 * the function, so that module's top-level code runs in every worker. Keep
 * a program's main code under `if (import.meta.main)` (Python's
 * `if __name__ == "__main__":`); a worker refuses to start a pool of its
 * own, so an unguarded `new Pool()` fails with a message saying so.
 *
 * Workers start with the pool, a few at a time (two per CPU; each one that
 * gets ready starts the next), since starting a Worker blocks the event loop
 * until its thread is up, and are daemons: a program that forgets to close
 * its pool still ends. A worker that dies (its task called `exit()`,
 * an uncaught error outside a task, `terminate()`/`kill()` from outside)
 * fails the task it was running with a {@linkcode ProcessError} naming the
 * worker and its exit code, and is replaced; the chunk it held behind that
 * task runs on another worker. A pool never hangs on a dead worker.
 *
 * Python's names: `map_async`/`starmap_async` are {@linkcode Pool.map} and
 * {@linkcode Pool.starmap} (already promises), `imap_unordered` is
 * {@linkcode Pool.imapUnordered}, `apply_async` is
 * {@linkcode Pool.applyAsync}, `with Pool() as p:` is
 * `await using p = new Pool()`.
 *
 * @example Map a function over a list
 * ```ts
 * import { Pool } from "@mp/multiprocessing/pool";
 * import assert from "node:assert/strict";
 *
 * const double = {
 *   module: "data:text/javascript,export function double(x) { return 2 * x; }",
 *   export: "double",
 * };
 * await using pool = new Pool({ processes: 2 });
 * assert.deepEqual(await pool.map(double, [1, 2, 3, 4]), [2, 4, 6, 8]);
 * ```
 */
export class Pool implements AsyncDisposable {
  #state: State = "run";
  #processes: number;
  #initializer: TargetSpec | null;
  #initArgs: unknown[];
  #maxTasks: number | undefined;
  #backend: Backend | undefined;
  #slots = new Set<Slot>();
  /** Chunks waiting for a worker; `#head` is the next. */
  #queue: Span[] = [];
  #head = 0;
  /** Whether a pump waits for the event loop's next turn. */
  #pumpPending = false;
  /** Jobs with tasks still to run. */
  #jobs = new Set<Job>();
  #nextChunkId = 0;
  #joiners = 0;
  #keepAlive: Disposable | undefined;
  #startingLook: ReturnType<typeof setTimeout> | undefined;

  /**
   * Starts the workers.
   *
   * @param options How many workers, their initializer, when to replace
   * them; or just how many workers, as Python's `Pool(4)`.
   * @throws {RangeError} When `processes` or `maxTasksPerChild` is not a
   * positive integer.
   * @throws {TypeError} When `options` is neither a number nor an object, or
   * more arguments follow it (Python's `Pool(4, init)`); when `initializer`
   * is not an exported function or `{ module, export }`, `initArgs` cannot
   * be passed to a child, or `backend` is unknown.
   * @throws {ProcessError} When called in a pool worker.
   *
   * @example Two workers, replaced after 100 tasks each
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool({ processes: 2, maxTasksPerChild: 100 });
   * assert.equal(pool.processes, 2);
   * ```
   *
   * @example A number is how many workers, as Python's `Pool(4)`
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool(2);
   * assert.equal(pool.processes, 2);
   * assert.throws(() => new Pool(0), RangeError);
   * ```
   */
  constructor(options?: number | PoolOptions) {
    checkBootstrapped("a Pool", new.target);
    if ((globalThis as Record<symbol, unknown>)[IN_POOL_WORKER]) {
      throw new ProcessError(
        "A pool worker cannot start a Pool, as in Python, where pool workers are daemons and have no children: " +
          "if this ran while a worker imported your module to find a task function, guard the program's main code with `if (import.meta.main) { ... }`",
      );
    }
    options = poolOptions(options ?? {}, arguments[1]);
    const { processes = cpuCount(), maxTasksPerChild, initArgs = [] } = options;
    checkCount(
      processes,
      "processes",
      ": pass how many workers to start, such as new Pool(4), or leave it out for one per CPU",
    );
    if (maxTasksPerChild !== undefined) {
      checkCount(maxTasksPerChild, "maxTasksPerChild");
    }
    this.#processes = processes;
    this.#maxTasks = maxTasksPerChild;
    this.#backend = options.backend;
    this.#initializer = options.initializer === undefined
      ? null
      : specOf(options.initializer, "initializer");
    this.#initArgs = initArgs;
    try {
      this.#ensureWorkers(true);
    } catch (error) {
      this.terminate();
      throw error;
    }
    this.#updateRef();
  }

  /**
   * How many workers the pool keeps.
   *
   * @example One worker
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * await using pool = new Pool({ processes: 1 });
   * assert.equal(pool.processes, 1);
   * ```
   */
  get processes(): number {
    return this.#processes;
  }

  /**
   * Calls `fn` on each item in parallel (Python's `Pool.map`).
   *
   * @typeParam T The items' type.
   * @typeParam R What `fn` returns (its promise's value for an async `fn`).
   * @param fn An exported function of one argument, or `{ module, export }`.
   * @param iterable The items (a sync or async iterable).
   * @param options `chunksize` (default: Python's rule), `signal`,
   * `timeout`, `stopRunning`, `onProgress`, `onEvent`.
   * @returns The results, in the order of the items.
   * @throws {ProcessError} (rejects) When the pool is closed or terminated, or
   * a worker died while running one of the tasks.
   * @throws {TypeError} (rejects) When `fn` cannot be found by a worker or an
   * item cannot be passed to one.
   * @throws {RangeError} (rejects) When `chunksize` is not a positive integer.
   * @throws {Error} (rejects) The first error a task threw, rebuilt with its
   * class name, message and the worker's stack; or `signal.reason`.
   *
   * @example Add one to each item, two items per message
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const inc = {
   *   module: "data:text/javascript,export const inc = (x) => x + 1;",
   *   export: "inc",
   * };
   * await using pool = new Pool({ processes: 2 });
   * assert.deepEqual(await pool.map(inc, [1, 2, 3], { chunksize: 2 }), [2, 3, 4]);
   * ```
   */
  map<T, R>(
    fn: PoolFunction<[T], R>,
    iterable: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]> {
    return rejecting(() =>
      this.#list(specOf(fn, "task function"), false, iterable, options)
    ) as Promise<Awaited<R>[]>;
  }

  /**
   * Like {@linkcode Pool.map}, but each item is an argument list:
   * `starmap(f, [[1, 2], [3, 4]])` is `[f(1, 2), f(3, 4)]` (Python's
   * `Pool.starmap`).
   *
   * @typeParam A `fn`'s parameter list.
   * @typeParam R What `fn` returns.
   * @param fn An exported function, or `{ module, export }`.
   * @param iterable The argument lists.
   * @param options `chunksize` (default: Python's rule), `signal`,
   * `timeout`, `stopRunning`, `onProgress`, `onEvent`.
   * @returns The results, in order.
   * @throws {ProcessError} (rejects) As {@linkcode Pool.map}.
   *
   * @example Each item is an argument list
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const add = {
   *   module: "data:text/javascript,export const add = (a, b) => a + b;",
   *   export: "add",
   * };
   * await using pool = new Pool({ processes: 1 });
   * assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7]);
   * ```
   */
  // deno-lint-ignore no-explicit-any
  starmap<A extends any[], R>(
    fn: PoolFunction<A, R>,
    iterable: Iterable<A> | AsyncIterable<A>,
    options?: MapOptions,
  ): Promise<Awaited<R>[]> {
    return rejecting(() =>
      this.#list(specOf(fn, "task function"), true, iterable, options)
    ) as Promise<Awaited<R>[]>;
  }

  /**
   * Calls `fn` on each item in parallel and yields the results in order as
   * they come (Python's `Pool.imap`). Items are read from `iterable` only as
   * workers need them, so it may be long or endless.
   *
   * A task's error is thrown by the iteration when its turn comes; breaking
   * out of the loop drops the tasks not yet run. An error that `iterable`
   * throws comes after the results of the chunks read whole before it: as in
   * Python, the items of the chunk it interrupted do not run.
   *
   * @typeParam T The items' type.
   * @typeParam R What `fn` returns.
   * @param fn An exported function of one argument, or `{ module, export }`.
   * @param iterable The items (a sync or async iterable).
   * @param options `chunksize` (default 1), `signal`, `timeout`,
   * `stopRunning`, `onProgress`, `onEvent`.
   * @returns An async iterator of the results.
   * @throws {ProcessError} When the pool is closed or terminated.
   * @throws {TypeError} When `fn` is not an exported function or
   * `{ module, export }`.
   * @throws {RangeError} When `chunksize` is not a positive integer.
   *
   * @example Results in order, as they come
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const neg = {
   *   module: "data:text/javascript,export const neg = (x) => -x;",
   *   export: "neg",
   * };
   * await using pool = new Pool({ processes: 2 });
   * const seen = [];
   * for await (const y of pool.imap(neg, [1, 2, 3])) seen.push(y);
   * assert.deepEqual(seen, [-1, -2, -3]);
   * ```
   */
  imap<T, R>(
    fn: PoolFunction<[T], R>,
    iterable: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    const spec = specOf(fn, "task function");
    return this.#stream(spec, iterable, options, true) as AsyncIterableIterator<
      Awaited<R>
    >;
  }

  /**
   * Like {@linkcode Pool.imap}, but yields each result as soon as it is
   * ready, in any order (Python's `Pool.imap_unordered`).
   *
   * @typeParam T The items' type.
   * @typeParam R What `fn` returns.
   * @param fn An exported function of one argument, or `{ module, export }`.
   * @param iterable The items.
   * @param options `chunksize` (default 1), `signal`, `timeout`,
   * `stopRunning`, `onProgress`, `onEvent`.
   * @returns An async iterator of the results, in the order they finish.
   * @throws {ProcessError} When the pool is closed or terminated.
   * @throws {TypeError} When `fn` is not an exported function or
   * `{ module, export }`.
   * @throws {RangeError} When `chunksize` is not a positive integer.
   *
   * @example Results as they finish
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const neg = {
   *   module: "data:text/javascript,export const neg = (x) => -x;",
   *   export: "neg",
   * };
   * await using pool = new Pool({ processes: 2 });
   * const seen = [];
   * for await (const y of pool.imapUnordered(neg, [1, 2, 3])) seen.push(y);
   * assert.deepEqual(seen.sort(), [-1, -2, -3].sort());
   * ```
   */
  imapUnordered<T, R>(
    fn: PoolFunction<[T], R>,
    iterable: Iterable<T> | AsyncIterable<T>,
    options?: MapOptions,
  ): AsyncIterableIterator<Awaited<R>> {
    const spec = specOf(fn, "task function");
    return this.#stream(
      spec,
      iterable,
      options,
      false,
    ) as AsyncIterableIterator<
      Awaited<R>
    >;
  }

  /**
   * Calls `fn(...args)` in a worker and waits for its result (Python's
   * `Pool.apply`, which blocks; this one is async).
   *
   * @typeParam A `fn`'s parameter list.
   * @typeParam R What `fn` returns.
   * @param fn An exported function, or `{ module, export }`.
   * @param call Its arguments (which may be left out when it takes none),
   * then the options: `timeout`, `signal`, `stopRunning`, `onEvent`.
   * @returns The result.
   * @throws {ProcessError} (rejects) When the pool is closed or terminated,
   * or the worker died while running the task.
   * @throws {TimeoutError} (rejects) When the task ran past `timeout`; its
   * worker was stopped and replaced.
   * @throws {Error} (rejects) The task's error, rebuilt with its class name,
   * message and the worker's stack.
   *
   * @example Call once in a worker
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const add = {
   *   module: "data:text/javascript,export const add = (a, b) => a + b;",
   *   export: "add",
   * };
   * await using pool = new Pool({ processes: 1 });
   * assert.equal(await pool.apply(add, [2, 3]), 5);
   * ```
   */
  // deno-lint-ignore no-explicit-any
  apply<A extends any[], R>(
    fn: PoolFunction<A, R>,
    ...call: CallArgs<A, ApplyOptions<Awaited<R>>>
  ): Promise<Awaited<R>> {
    const [args, options] = call;
    return rejecting(() =>
      this.#one(specOf(fn, "task function"), args ?? [], options)
    ) as Promise<Awaited<R>>;
  }

  /**
   * Calls `fn(...args)` in a worker (Python's `Pool.apply_async`). The
   * callbacks run when the task ends, before the promise settles. As with
   * Python's `AsyncResult`, a failure that nobody awaits is not reported as
   * an unhandled rejection: it goes to `errorCallback`, if any.
   *
   * @typeParam A `fn`'s parameter list.
   * @typeParam R What `fn` returns.
   * @param fn An exported function, or `{ module, export }`.
   * @param call Its arguments (which may be left out when it takes none),
   * then the options: `callback`, `errorCallback`, `signal`, `timeout`,
   * `stopRunning`, `onEvent`.
   * @returns A promise of the result.
   * @throws {ProcessError} (rejects) As {@linkcode Pool.apply}.
   *
   * @example A callback with the result
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const add = {
   *   module: "data:text/javascript,export const add = (a, b) => a + b;",
   *   export: "add",
   * };
   * await using pool = new Pool({ processes: 1 });
   * const got: unknown[] = [];
   * const result = pool.applyAsync(add, [2, 3], { callback: (r) => got.push(r) });
   * assert.equal(await result, 5);
   * assert.deepEqual(got, [5]);
   * ```
   */
  // deno-lint-ignore no-explicit-any
  applyAsync<A extends any[], R>(
    fn: PoolFunction<A, R>,
    ...call: CallArgs<A, ApplyOptions<Awaited<R>>>
  ): Promise<Awaited<R>> {
    const [args, options = {}] = call;
    const promise = rejecting(() =>
      this.#one(specOf(fn, "task function"), args ?? [], options)
    ) as Promise<Awaited<R>>;
    const { callback, errorCallback } = options;
    promise.then(
      (result) => callback && report(() => callback(result)),
      (error) => errorCallback && report(() => errorCallback(error)),
    );
    return promise;
  }

  /**
   * Calls `fn(...args)` in a worker and returns a {@linkcode Future} of its
   * result (Python's `concurrent.futures.Executor.submit`): it can be
   * cancelled until a worker takes it, waited for with a timeout, and
   * given done-callbacks; `asCompleted` and `wait` of
   * `@mp/multiprocessing/futures` take many.
   *
   * @typeParam A `fn`'s parameter list.
   * @typeParam R What `fn` returns.
   * @param fn An exported function, or `{ module, export }`.
   * @param args Its arguments.
   * @returns The future of its result.
   * @throws {ProcessError} When the pool is closed or terminated.
   * @throws {TypeError} When `fn` is not an exported function or
   * `{ module, export }`.
   *
   * @example Submit, then wait for the result
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const add = {
   *   module: "data:text/javascript,export const add = (a, b) => a + b;",
   *   export: "add",
   * };
   * await using pool = new Pool({ processes: 1 });
   * const future = pool.submit(add, 2, 3);
   * assert.equal(await future.result(), 5);
   * assert.equal(future.done(), true);
   * ```
   */
  // deno-lint-ignore no-explicit-any
  submit<A extends any[], R>(
    fn: PoolFunction<A, R>,
    ...args: A
  ): Future<Awaited<R>> {
    const job = this.#oneJob(specOf(fn, "task function"), args, undefined);
    return new Future<Awaited<R>>(
      job.promise.then((results) => results[0] as Awaited<R>),
      {
        running: () => job.started && !job.settled,
        cancel: (reason) => {
          if (job.started || job.settled) return false;
          job.cancel(reason);
          return true;
        },
      },
    );
  }

  /**
   * Lets the pool take no more tasks; the workers end once the tasks
   * already given have run (Python's `Pool.close`).
   *
   * @example Finish the work, then wait for the workers
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const inc = {
   *   module: "data:text/javascript,export const inc = (x) => x + 1;",
   *   export: "inc",
   * };
   * const pool = new Pool({ processes: 2 });
   * const results = pool.map(inc, [1, 2, 3]);
   * pool.close();
   * await pool.join();
   * assert.deepEqual(await results, [2, 3, 4]);
   * await assert.rejects(pool.map(inc, [1]), /closed/);
   * ```
   */
  close(): void {
    if (this.#state === "run") this.#state = "close";
    this.#pump();
  }

  /**
   * Stops the workers now (Python's `Pool.terminate`). Tasks not finished
   * fail with a {@linkcode ProcessError}. {@linkcode Pool.join} waits for
   * the workers to be gone.
   *
   * @example Tasks in progress fail
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const forever = {
   *   module: "data:text/javascript,export const forever = () => new Promise(() => {});",
   *   export: "forever",
   * };
   * const pool = new Pool({ processes: 1 });
   * const task = pool.apply(forever);
   * pool.terminate();
   * await assert.rejects(task, /terminated/);
   * await pool.join();
   * ```
   */
  terminate(): void {
    if (this.#state === "terminate") return;
    this.#state = "terminate";
    const error = new ProcessError(
      "The pool was terminated before this task finished: close() and join() it instead to let tasks finish",
    );
    for (const job of [...this.#jobs]) job.cancel(error);
    clearTimeout(this.#startingLook);
    this.#startingLook = undefined;
    this.#queue = [];
    this.#head = 0;
    for (const slot of this.#slots) slot.process.terminate();
  }

  /**
   * Waits for every worker to end (Python's `Pool.join`).
   *
   * @throws {ProcessError} (rejects) When called before
   * {@linkcode Pool.close} or {@linkcode Pool.terminate}.
   *
   * @example Close, then join
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const pool = new Pool({ processes: 1 });
   * await assert.rejects(pool.join(), /running pool/);
   * pool.close();
   * await pool.join();
   * ```
   */
  async join(): Promise<void> {
    if (this.#state === "run") {
      throw new ProcessError(
        "Cannot join a running pool: call close() (to finish the tasks) or terminate() first",
      );
    }
    this.#joiners++;
    this.#updateRef();
    try {
      // A worker that dies while closing is replaced when tasks remain.
      while (this.#slots.size) {
        await Promise.all([...this.#slots].map((slot) => slot.ended));
      }
    } finally {
      this.#joiners--;
      this.#updateRef();
    }
  }

  /**
   * Terminates the pool and waits for its workers (Python's `with Pool()`).
   *
   * @example The pool ends with the scope
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   *
   * {
   *   await using pool = new Pool({ processes: 1 });
   *   // ... use the pool
   * } // terminated and joined here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
    await this.join();
  }

  #checkRunning(): void {
    if (this.#state !== "run") {
      throw new ProcessError(
        `The pool is ${
          this.#state === "close" ? "closed" : "terminated"
        }: it takes no new tasks; make a new Pool`,
      );
    }
  }

  #list(
    spec: TargetSpec,
    star: boolean,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions | undefined,
  ): Promise<unknown[]> {
    this.#checkRunning();
    const { chunksize, signal, timeout } = options ?? {};
    if (chunksize !== undefined) checkCount(chunksize, "chunksize");
    const deadline = deadlineOf(timeout);
    signal?.throwIfAborted();
    if (!isIterable(iterable)) throw notIterable(iterable);
    // The job counts from now, so that close() waits for it while an async
    // input is being read.
    const job = new ListJob(spec, star);
    this.#start(job, options, deadline);
    const submit = (items: unknown[]) => {
      job.expect(items.length);
      if (job.settled) return;
      const size = chunksize ?? defaultChunksize(items.length, this.#processes);
      for (let start = 0; start < items.length; start += size) {
        const count = Math.min(size, items.length - start);
        this.#enqueue(job, start, items, start, count);
      }
      this.#pump();
    };
    if (Symbol.iterator in iterable) {
      let items: unknown[];
      try {
        // A copy: the items are the ones given now, as they are taken later.
        items = Array.isArray(iterable)
          ? iterable.slice()
          : Array.from(iterable);
      } catch (error) {
        job.cancel(error);
        return job.promise;
      }
      submit(items);
    } else {
      Array.fromAsync(iterable).then(submit, (error) => job.cancel(error));
    }
    return job.promise;
  }

  async #one(
    spec: TargetSpec,
    args: unknown[],
    options: CallOptions | undefined,
  ): Promise<unknown> {
    return (await this.#oneJob(spec, args, options).promise)[0];
  }

  /** Queues one task; its job's promise gives its result first in a list. */
  #oneJob(
    spec: TargetSpec,
    args: unknown[],
    options: CallOptions | undefined,
  ): ListJob {
    if (!Array.isArray(args)) {
      throw new TypeError(
        `The args must be an array of the function's arguments, got ${typeof args}: pass [] for none`,
      );
    }
    this.#checkRunning();
    const deadline = deadlineOf(options?.timeout);
    options?.signal?.throwIfAborted();
    const job = new ListJob(spec, true);
    job.expect(1);
    this.#start(job, options, deadline);
    this.#enqueue(job, 0, [args]);
    this.#pump();
    return job;
  }

  #stream(
    spec: TargetSpec,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions | undefined,
    ordered: boolean,
  ): AsyncIterableIterator<unknown> {
    this.#checkRunning();
    const { chunksize = 1, signal, timeout } = options ?? {};
    checkCount(chunksize, "chunksize");
    const deadline = deadlineOf(timeout);
    if (!isIterable(iterable)) throw notIterable(iterable);
    const star = (options as { [STARRED]?: boolean } | undefined)?.[STARRED];
    const job = new StreamJob(spec, star === true, ordered);
    if (signal?.aborted) {
      job.cancel(signal.reason);
    } else {
      this.#start(job, options, deadline);
      this.#feed(job, iterable, chunksize);
    }
    const iterator: AsyncIterableIterator<unknown> = {
      next: () => job.next(),
      return: (value?: unknown) => {
        job.stop();
        return Promise.resolve({ done: true, value });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Reads the input of a stream job into chunks, as fast as workers take them. */
  async #feed(
    job: StreamJob,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number,
  ): Promise<void> {
    // Read ahead enough to fill every worker's window.
    const limit = this.#processes * MAX_IN_FLIGHT;
    let index = 0;
    let items: unknown[] = [];
    try {
      const iterator = Symbol.iterator in iterable
        ? iterable[Symbol.iterator]()
        : (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      try {
        while (!job.settled) {
          let next = iterator.next();
          if (next instanceof Promise) next = await next;
          if ((next as IteratorResult<unknown>).done) break;
          items.push((next as IteratorResult<unknown>).value);
          index++;
          if (items.length === chunksize) {
            this.#enqueue(job, index - items.length, items);
            items = [];
            this.#pump();
            await job.room(limit);
          }
        }
      } finally {
        if (job.settled) await iterator.return?.();
      }
      if (job.settled) return;
      if (items.length) this.#enqueue(job, index - items.length, items);
      job.inputEnded(index);
    } catch (error) {
      // As Python's: the chunk being read when the input threw is dropped,
      // and the error comes after the results of the chunks before it.
      job.inputFailed(index - items.length, error);
    }
    this.#pump();
  }

  /**
   * Counts `job` as running and wires its options: an abort or the
   * deadline ends it (stopping the workers running its tasks, for a
   * deadline or when asked), its progress and events go to the caller.
   */
  #start(job: Job, options: CallOptions | undefined, deadline: number): void {
    const { signal, stopRunning, onProgress, onEvent } = options ?? {};
    this.#jobs.add(job);
    if (onProgress) job.watchProgress(onProgress);
    job.onEvent = onEvent;
    const abort = () => {
      job.cancel(signal!.reason);
      if (stopRunning) this.#stopRunning(job);
    };
    signal?.addEventListener("abort", abort, { once: true });
    const cancelTimer = onDeadline(deadline, () => {
      job.cancel(
        new TimeoutError(
          `The pool call did not finish within its timeout of ${options?.timeout} ms: the workers still running its tasks were stopped and replaced; give a longer timeout`,
        ),
      );
      this.#stopRunning(job);
    });
    job.onSettled = () => {
      signal?.removeEventListener("abort", abort);
      cancelTimer();
      this.#jobs.delete(job);
      if (job.queued > 0 || this.#state !== "run") {
        // Its chunks stay in the queue until they come up; they are
        // skipped. A closed pool ends its workers once no job is left.
        queueMicrotask(() => this.#pump());
      } else this.#updateRef();
    };
    this.#updateRef();
  }

  /**
   * Stops the workers running a task of `job` (settled already): killed and
   * replaced, as Python's pool replaces a worker that died. The chunks they
   * held behind it go back to the queue; chunks of `job` they held are
   * skipped. On the worker backend a task busy in synchronous code goes on
   * using its thread until it yields (see the README), but nothing it does
   * reaches the pool or this library any more.
   */
  #stopRunning(job: Job): void {
    for (const slot of this.#slots) {
      if (slot.inflight[0]?.job !== job) continue;
      this.#lose(slot);
      try {
        slot.process.kill();
      } catch {
        // it ended already: its end is being accounted for
      }
    }
  }

  /** Queues a chunk: `count` items of `source` from `from` on. */
  #enqueue(
    job: Job,
    start: number,
    source: unknown[],
    from = 0,
    count = source.length,
  ): void {
    this.#queue.push({ job, start, source, from, count });
    job.queued++;
  }

  /**
   * The next piece of work for `slot`: more of the chunk it is going
   * through, else the next chunk in the queue; at most a piece, and no
   * more than its task budget allows.
   */
  #take(slot: Slot): Chunk | undefined {
    let span = slot.reserved;
    if (span?.job.settled) {
      span.job.queued--;
      span = slot.reserved = undefined;
    }
    span ??= this.#peek();
    if (!span) return undefined;
    const budget = this.#maxTasks === undefined
      ? Infinity
      : this.#maxTasks - slot.assigned;
    const count = Math.min(span.count, budget, PIECE);
    span.job.started = true;
    const chunk: Chunk = {
      id: ++this.#nextChunkId,
      job: span.job,
      start: span.start,
      source: span.source,
      from: span.from,
      count,
    };
    if (count === span.count) {
      if (span === slot.reserved) slot.reserved = undefined;
      else this.#shift();
      span.job.queued--;
      span.job.taken();
      return chunk;
    }
    span.start += count;
    span.from += count;
    span.count -= count;
    if (span !== slot.reserved && count < budget) {
      // A chunk runs on one worker: the rest of it is its next work.
      this.#shift();
      slot.reserved = span;
    }
    // Cut to the budget, the rest goes to the next worker: it stays first
    // in line (or, reserved, is released when this worker retires).
    return chunk;
  }

  /** The next chunk to run, dropping the chunks of jobs that ended. */
  #peek(): Span | undefined {
    while (this.#head < this.#queue.length) {
      const span = this.#queue[this.#head];
      if (!span.job.settled) return span;
      this.#shift();
      span.job.queued--;
    }
    return undefined;
  }

  #shift(): void {
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #hasQueued(): boolean {
    return this.#peek() !== undefined;
  }

  /** Whether a worker has the rest of a chunk still to go through. */
  #hasReserved(): boolean {
    for (const slot of this.#slots) if (slot.reserved) return true;
    return false;
  }

  /** Hands out chunks, spreads them over the workers, and ends idle workers on close. */
  #pump(): void {
    this.#pumpPending = false;
    if (this.#state === "terminate") {
      this.#updateRef();
      return;
    }
    // Chunks that found their worker gone went back to the queue: deal
    // them again, to the workers left and the gone one's successor.
    while (!this.#dispatch());
    if (this.#state === "close" && this.#jobs.size === 0) {
      for (const slot of this.#slots) slot.retiring = true;
    }
    for (const slot of this.#slots) {
      if (slot.retiring && !slot.exitSent) {
        slot.exitSent = true;
        try {
          slot.channel.send(null);
        } catch {
          // Its channel is gone: the worker is ending anyway.
        }
        slot.wake?.();
      }
    }
    this.#updateRef();
  }

  /**
   * One round of handing out chunks. Returns `false` when a worker turned
   * out to be gone: its chunks went back to the queue, or it needs a
   * successor.
   */
  #dispatch(): boolean {
    if (this.#hasQueued()) this.#ensureWorkers(false);
    else if (!this.#hasReserved()) return true; // nothing to hand out
    // One chunk per worker per round, so that the work spreads out; what
    // a worker gets in one pump goes in one message.
    const batches = new Map<Slot, Batch>();
    let delivered = true;
    const deadline = performance.now() + SLICE_MS;
    rounds: for (let taken = true; taken;) {
      taken = false;
      for (const slot of this.#slots) {
        if (slot.retiring) continue;
        if (!isAlive(slot.process.pid!)) {
          // Ended by kill() or terminate(), which mark it ended at once;
          // its end is reported later.
          this.#lose(slot);
          delivered = false;
          continue;
        }
        // A worker is topped up once half its window ran, so that tiny
        // chunks travel many to a message.
        const limit = batches.has(slot) ? window(slot) : window(slot) / 2 + 1;
        if (slot.inflight.length >= limit) continue;
        const chunk = this.#take(slot);
        if (!chunk) continue;
        slot.inflight.push(chunk);
        slot.assigned += chunk.count;
        let batch = batches.get(slot);
        if (!batch) {
          batch = { chunks: [], messages: [], added: [] };
          batches.set(slot, batch);
        }
        batch.chunks.push(chunk);
        // Packed now, so that the deadline counts the work.
        batch.messages.push(this.#message(slot, chunk, batch.added));
        taken = true;
        if (this.#maxTasks !== undefined && slot.assigned >= this.#maxTasks) {
          // It ends after this chunk; its successor starts now.
          slot.retiring = true;
          this.#release(slot);
          this.#ensureWorkers(this.#state === "run");
        }
        if (performance.now() > deadline) {
          // The rest after the event loop had a turn.
          this.#pumpSoon();
          break rounds;
        }
      }
    }
    for (const [slot, batch] of batches) {
      if (!this.#send(slot, batch)) delivered = false;
      slot.wake?.();
    }
    return delivered;
  }

  /** Pumps once the event loop had its turn (at most one such pump waits). */
  #pumpSoon(): void {
    if (this.#pumpPending) return;
    this.#pumpPending = true;
    setImmediate(() => {
      if (this.#pumpPending) this.#pump();
    });
  }

  /**
   * Sends chunks to a worker (already counted in its `inflight`). Returns
   * `false` when the worker is gone: the chunks never reached it, so they
   * go back to the queue for another worker rather than fail.
   */
  #send(slot: Slot, { chunks, messages, added }: Batch): boolean {
    try {
      const transfer = messages.flatMap((message) => buffersOf(message.items));
      sendPoolMessage(slot.channel, messages, transfer);
      slot.busy = true;
      return true;
    } catch {
      for (const key of added) slot.known.delete(key);
    }
    slot.inflight = slot.inflight.filter((chunk) => !chunks.includes(chunk));
    slot.assigned -= count(chunks);
    if (slot.unconfirmed && chunks.includes(slot.unconfirmed)) {
      slot.unconfirmed = undefined;
    }
    // Something in the batch cannot be sent: send the chunks one by one so
    // that only the tasks that cannot be sent fail.
    for (const [i, chunk] of chunks.entries()) {
      const added: string[] = [];
      slot.inflight.push(chunk);
      try {
        slot.channel.send([this.#message(slot, chunk, added)]);
        slot.assigned += chunk.count;
      } catch (error) {
        for (const key of added) slot.known.delete(key);
        slot.inflight.pop();
        if (!canReceive(slot)) {
          this.#lose(slot);
          this.#requeue(chunks.slice(i));
          return false;
        }
        chunk.job.failChunk(
          chunk.start,
          chunk.count,
          itemError(chunk, error) as Error,
        );
      }
    }
    return true;
  }

  /**
   * Marks a worker gone (it ended, or its channel closed): from now on it
   * takes no work. What it holds is accounted for when it has ended.
   */
  #lose(slot: Slot): void {
    slot.retiring = true;
    slot.exitSent = true;
    this.#release(slot);
  }

  /** Puts back the rest of the chunk a worker that takes no more work had. */
  #release(slot: Slot): void {
    if (!slot.reserved) return;
    this.#queue.splice(this.#head, 0, slot.reserved);
    slot.reserved = undefined;
  }

  /** Puts chunks that never ran back at the front of the queue, in order. */
  #requeue(chunks: Chunk[]): void {
    const spans = chunks.map(({ job, start, source, from, count }) => ({
      job,
      start,
      source,
      from,
      count,
    }));
    this.#queue.splice(this.#head, 0, ...spans);
    for (const chunk of chunks) chunk.job.queued++;
  }

  #message(slot: Slot, chunk: Chunk, added: string[]): ChunkMessage {
    const { job } = chunk;
    const message: ChunkMessage = {
      id: chunk.id,
      fn: job.key,
      star: job.star,
      items: pack(chunk.source, chunk.from, chunk.count),
    };
    if (slot.inflight[0] === chunk) {
      // The worker is idle: only it can tell whether it took this chunk.
      message.confirm = true;
      slot.unconfirmed = chunk;
    }
    if (!slot.known.has(job.key)) {
      message.spec = job.fn;
      slot.known.add(job.key);
      added.push(job.key);
    }
    return message;
  }

  /** Starts workers up to `processes`: always when `eager`, else when tasks wait. */
  /**
   * Starts workers up to the pool's size (eagerly, or only while tasks
   * wait), a few at a time: a worker that gets ready starts the next.
   */
  #ensureWorkers(eager: boolean): void {
    if (this.#state === "terminate") return;
    if (!eager && !this.#hasQueued()) return;
    let active = 0;
    let starting = 0;
    for (const slot of this.#slots) {
      if (slot.retiring) continue;
      active++;
      if (!slot.ready) starting++;
    }
    const most = Math.max(2, STARTING_PER_CPU * cpuCount());
    for (; active < this.#processes && starting < most; active++, starting++) {
      this.#spawn();
    }
  }

  #spawn(): void {
    const [channel, remote] = Pipe();
    tunePoolChannel(channel);
    const process = new Process({
      target: WORKER_TARGET,
      args: [remote, this.#initializer, this.#initArgs],
      name: `PoolWorker-${++workerCount}`,
      daemon: true,
      backend: this.#backend,
    });
    try {
      process.start();
    } catch (error) {
      channel.close();
      throw error;
    }
    const slot: Slot = {
      process,
      channel,
      inflight: [],
      reserved: undefined,
      unconfirmed: undefined,
      assigned: 0,
      known: new Set(),
      chunkMs: undefined,
      ready: false,
      retiring: false,
      exitSent: false,
      wake: undefined,
      busy: false,
      lastResult: 0,
      coolTimer: undefined,
      ended: Promise.resolve(),
    };
    this.#slots.add(slot);
    slot.ended = this.#read(slot);
    this.#lookForReady();
  }

  /**
   * While a worker is starting, wakes its reader now and then, which reads
   * its ready message once it is there (a worker that gets ready starts
   * the next): an unref'd timer, so that a pool left open does not keep
   * the program running while its workers start.
   */
  #lookForReady(): void {
    if (this.#startingLook !== undefined) return;
    this.#startingLook = unrefTimeout(() => {
      this.#startingLook = undefined;
      let starting = false;
      for (const slot of this.#slots) {
        if (slot.ready || slot.retiring) continue;
        starting = true;
        slot.wake?.();
      }
      if (starting && this.#state !== "terminate") this.#lookForReady();
    }, STARTING_LOOK_MS);
  }

  /** Reads a worker's results until its channel ends, then accounts for its end. */
  async #read(slot: Slot): Promise<void> {
    let exited = false;
    joinQuietly(slot.process).then(() => {
      exited = true;
      this.#lose(slot);
      slot.wake?.();
    });
    while (true) {
      // An idle worker is not read from, as a pending read keeps the
      // program alive; its end (or new work) wakes this loop.
      while (!exited && slot.inflight.length === 0 && !slot.exitSent) {
        if (!slot.ready && await readyWaits(slot)) break;
        await new Promise<void>((resolve) => slot.wake = resolve);
        slot.wake = undefined;
      }
      let message: FromWorker;
      try {
        message = await slot.channel.recv() as FromWorker;
      } catch (error) {
        if (error instanceof EOFError || slot.channel.closed) break;
        // A result that could not be revived: it fails its own chunk.
        const chunk = slot.inflight.shift();
        if (chunk === slot.unconfirmed) slot.unconfirmed = undefined;
        chunk?.job.failChunk(chunk.start, chunk.count, error as Error);
        continue;
      }
      this.#receive(slot, message);
      // Results may come faster than they are handled: the event loop runs
      // between slices of that work.
      if (performance.now() - lastTurn > SLICE_MS) await nextTurn();
    }
    // Its channel closed: the worker is ending, whether or not its end has
    // been reported yet.
    this.#lose(slot);
    await joinQuietly(slot.process);
    this.#ended(slot);
  }

  #receive(slot: Slot, received: FromWorker): void {
    const message = receivedPoolMessage(received);
    if (typeof message === "number") {
      if (slot.unconfirmed?.id === message) slot.unconfirmed = undefined;
      return;
    }
    if ("ready" in message) {
      slot.ready = true;
      // The next worker, if the pool is still short of its size.
      this.#ensureWorkers(this.#state === "run");
      this.#pump();
      return;
    }
    if ("event" in message) {
      const { job } = slot.inflight.find((chunk) => chunk.id === message.id) ??
        {};
      const onEvent = job?.settled ? undefined : job?.onEvent;
      if (onEvent) report(() => onEvent(message.event));
      return;
    }
    const chunk = slot.inflight.shift();
    if (chunk === slot.unconfirmed) slot.unconfirmed = undefined;
    slot.chunkMs = slot.chunkMs === undefined
      ? message.ms
      : 0.7 * slot.chunkMs + 0.3 * message.ms;
    if (chunk && chunk.id === message.id && !chunk.job.settled) {
      const errors = message.errors?.length
        ? new Map(message.errors.map(([i, data]) => [i, dataToError(data)]))
        : undefined;
      chunk.job.deliverPacked(chunk.start, message.results, errors);
    }
    this.#pump();
    slot.lastResult = performance.now();
    if (slot.inflight.length === 0) this.#coolLater(slot);
  }

  /**
   * Tells a worker left idle for COOL_MS that it is idle (an empty batch),
   * unless it got work meanwhile. One timer a worker at a time: when it
   * fires early (results came since), it waits out the rest.
   */
  #coolLater(slot: Slot): void {
    if (slot.coolTimer !== undefined || !slot.busy) return;
    const check = () => {
      slot.coolTimer = undefined;
      if (!slot.busy || slot.exitSent || slot.inflight.length > 0) return;
      const idle = performance.now() - slot.lastResult;
      if (idle < COOL_MS) {
        slot.coolTimer = unrefTimeout(check, COOL_MS - idle);
        return;
      }
      slot.busy = false;
      try {
        slot.channel.send([]);
      } catch {
        // It is gone: its end is being accounted for.
      }
    };
    slot.coolTimer = unrefTimeout(check, COOL_MS);
  }

  #ended(slot: Slot): void {
    clearTimeout(slot.coolTimer);
    slot.coolTimer = undefined;
    this.#slots.delete(slot);
    slot.channel.close();
    const lost = slot.inflight;
    slot.inflight = [];
    if (this.#state === "terminate") return;
    // The first chunk was running, unless the worker died before it
    // confirmed taking it; a worker that never got ready fails it too, so
    // that a failing initializer fails tasks rather than respawning
    // forever. The chunks behind it never started: they go back to the
    // front of the queue.
    if (lost.length && (lost[0] !== slot.unconfirmed || !slot.ready)) {
      const running = lost.shift()!;
      running.job.failChunk(
        running.start,
        running.count,
        deathError(slot, running),
      );
    }
    this.#requeue(lost);
    // A worker that never got ready (its initializer failed) is replaced
    // only while tasks wait, so a failing initializer cannot spin.
    this.#ensureWorkers(this.#state === "run" && slot.ready);
    this.#pump();
  }

  /**
   * The pool keeps the program alive while tasks run or someone joins, and
   * not otherwise (its workers are daemons and its channels unref'd), so a
   * program that forgets to close its pool still ends.
   */
  #updateRef(): void {
    const busy = this.#jobs.size > 0 ||
      (this.#joiners > 0 && this.#slots.size > 0);
    if (busy && this.#keepAlive === undefined) {
      // The library's one keep-alive: a ref on a timer made once, not a
      // timer made and cleared for each call (a few µs of an apply).
      this.#keepAlive = holdEventLoop();
    } else if (!busy && this.#keepAlive !== undefined) {
      this.#keepAlive[Symbol.dispose]();
      this.#keepAlive = undefined;
    }
  }
}

/**
 * A timer that keeps nothing alive: the workers are daemons, and telling
 * one that it is idle is no reason for the program to go on.
 */
/** Whether a starting worker's ready message (or its end) is there to read. */
async function readyWaits(slot: Slot): Promise<boolean> {
  try {
    return await slot.channel.poll();
  } catch {
    return true; // its channel closed: the read finds the end
  }
}

function unrefTimeout(
  fn: () => void,
  ms: number,
): ReturnType<typeof setTimeout> {
  const timer = setTimeout(fn, ms);
  unrefTimer(timer);
  return timer;
}

/** How many chunks a worker may hold, from how long its chunks take. */
function window(slot: Slot): number {
  if (slot.chunkMs === undefined) return IN_FLIGHT;
  const cover = Math.ceil(COVER_MS / Math.max(slot.chunkMs, 1e-3)) + 1;
  return Math.min(MAX_IN_FLIGHT, Math.max(IN_FLIGHT, cover));
}

/** How many tasks the chunks hold. */
function count(chunks: Chunk[]): number {
  let tasks = 0;
  for (const chunk of chunks) tasks += chunk.count;
  return tasks;
}

/**
 * Whether a worker's channel still takes messages. An empty batch is the
 * probe: a worker that gets it has nothing to run.
 */
function canReceive(slot: Slot): boolean {
  try {
    slot.channel.send([]);
    return true;
  } catch {
    return false;
  }
}

function deathError(slot: Slot, chunk: Chunk): ProcessError {
  const { process } = slot;
  const cause = process.error;
  const tasks = chunk.count === 1
    ? "this task"
    : `this chunk of ${chunk.count} tasks`;
  const when = slot.ready
    ? `while running ${tasks}`
    : `before it was ready to run ${tasks} (its initializer or startup failed)`;
  return new ProcessError(
    `Pool worker ${process.name} (pid ${process.pid}) ended with exit code ${process.exitCode} ${when}` +
      (cause ? `: ${cause.name}: ${quoteMessage(cause)}` : "") +
      "; the pool started another worker",
    { cause },
  );
}

/** Names the task that cannot be sent, when one alone is the cause. */
function itemError(chunk: Chunk, error: unknown): unknown {
  for (let i = 0; i < chunk.count; i++) {
    try {
      structuredClone(chunk.source[chunk.from + i]);
    } catch (cause) {
      return new TypeError(
        `Task ${chunk.start + i} cannot be sent to a pool worker: ${
          quoteMessage(cause)
        }; pass data the structured clone copies, or a primitive of this library`,
        { cause },
      );
    }
  }
  return error;
}

/** Python's default: about four chunks per worker. */
function defaultChunksize(length: number, processes: number): number {
  const per = processes * 4;
  return Math.floor(length / per) + (length % per ? 1 : 0);
}

function checkCount(value: unknown, what: string, hint = ""): void {
  if (!Number.isInteger(value) || (value as number) < 1) {
    const got = typeof value === "string"
      ? JSON.stringify(value)
      : String(value);
    throw new RangeError(
      `The ${what} option must be a whole number from 1 up, got ${got}${hint}`,
    );
  }
}

/**
 * The options of `new Pool(options)`, where a number is Python's
 * `processes`. Python's further arguments (`Pool(4, init, args)`) would be
 * ignored silently here, so they are refused.
 */
function poolOptions(options: unknown, extra: unknown): PoolOptions {
  if (extra !== undefined) {
    throw new TypeError(
      "Pool takes one argument, a number of processes or an options object: " +
        "for Python's Pool(4, init, args), write new Pool({ processes: 4, initializer: init, initArgs: args })",
    );
  }
  if (typeof options === "number") return { processes: options };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Pool takes a number of processes or an options object, got ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  return options as PoolOptions;
}

function specOf(
  // deno-lint-ignore no-explicit-any
  fn: PoolFunction<any[], unknown>,
  what: "task function" | "initializer",
): TargetSpec {
  return resolveTarget(fn, {
    noun: `the pool's ${what}`,
    importer: "a pool worker",
    option: "",
  }, callerModule);
}

function notIterable(value: unknown): TypeError {
  return new TypeError(
    `The items must be an iterable or an async iterable, got ${
      value === null ? "null" : typeof value
    }: pass an array, a generator or an async generator`,
  );
}

function isIterable(
  value: unknown,
): value is Iterable<unknown> | AsyncIterable<unknown> {
  return value != null &&
    (typeof (value as Iterable<unknown>)[Symbol.iterator] === "function" ||
      typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] ===
        "function");
}

/** Calls `run`; what it throws becomes the promise's rejection. */
function rejecting<T>(run: () => Promise<T>): Promise<T> {
  try {
    return run();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Runs a user callback; its error is reported, not swallowed. */
function report(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    reportError(error);
  }
}
