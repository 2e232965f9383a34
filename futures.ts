// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Python's `concurrent.futures` over this library's pool:
 * {@linkcode ProcessPoolExecutor}, the {@linkcode Future} of a submitted
 * task, {@linkcode asCompleted} and {@linkcode wait}.
 *
 * ```ts
 * import { asCompleted, ProcessPoolExecutor } from "@mp/multiprocessing/futures";
 * import assert from "node:assert/strict";
 *
 * const square = {
 *   module: "data:text/javascript,export const square = (x) => x * x;",
 *   export: "square",
 * };
 * await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 * const futures = [1, 2, 3].map((x) => executor.submit(square, x));
 * const results: unknown[] = [];
 * for await (const future of asCompleted(futures)) {
 *   results.push(await future.result());
 * }
 * assert.deepEqual(results.sort(), [1, 4, 9]);
 * ```
 *
 * @module
 */
import type { Future } from "./_pool/future.ts";
import { STARRED } from "./_pool/job.ts";
import { type MapOptions, Pool, type PoolFunction } from "./pool.ts";
import type { Backend } from "./process.ts";
import { ProcessError, TimeoutError } from "./errors.ts";
import { deadlineOf, remaining, settlesBy } from "./_timeout.ts";
import { internalModule } from "./_target.ts";

internalModule(import.meta.url);

export { Future } from "./_pool/future.ts";
export type { Backend } from "./process.ts";
export type { PoolFunction } from "./pool.ts";

/** `wait()` returns when any future is over (Python's `FIRST_COMPLETED`). */
export const FIRST_COMPLETED = "FIRST_COMPLETED";
/** `wait()` returns when any future failed, or all are over. */
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
/** `wait()` returns when every future is over (the default). */
export const ALL_COMPLETED = "ALL_COMPLETED";

/** When {@linkcode wait} returns. */
export type ReturnWhen =
  | typeof FIRST_COMPLETED
  | typeof FIRST_EXCEPTION
  | typeof ALL_COMPLETED;

/** Options of {@linkcode ProcessPoolExecutor}. */
export interface ExecutorOptions {
  /** How many worker processes (default: the CPU count). */
  maxWorkers?: number;
  /** `"worker"` or `"subprocess"` (default: the start method). */
  backend?: Backend;
  /** Run once in each worker before its first task (an exported function). */
  // deno-lint-ignore no-explicit-any
  initializer?: PoolFunction<any[], unknown>;
  /** The initializer's arguments. */
  initArgs?: unknown[];
  /** Replace a worker after it ran this many tasks (default: never). */
  maxTasksPerChild?: number;
}

/** Options of {@linkcode ProcessPoolExecutor.map}. */
export interface ExecutorMapOptions {
  /**
   * Milliseconds from the call within which each result must come, as in
   * Python: past it the iteration throws a {@linkcode TimeoutError} and the
   * tasks still running are stopped.
   */
  timeout?: number;
  /** Tasks sent to a worker at a time (default 1, as Python's). */
  chunksize?: number;
}

/** Options of {@linkcode ProcessPoolExecutor.shutdown}. */
export interface ShutdownOptions {
  /** Wait for the tasks given so far and the workers' end (default `true`). */
  wait?: boolean;
  /** Cancel the tasks no worker took yet (default `false`). */
  cancelFutures?: boolean;
}

/**
 * A pool of worker processes behind Python's `concurrent.futures`
 * interface: `submit` gives a {@linkcode Future}, `map` the results in
 * order, `shutdown` ends it. It runs on either backend.
 *
 * @example Submit and shut down
 * ```ts
 * import { ProcessPoolExecutor } from "@mp/multiprocessing/futures";
 * import assert from "node:assert/strict";
 *
 * const add = {
 *   module: "data:text/javascript,export const add = (a, b) => a + b;",
 *   export: "add",
 * };
 * const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
 * const future = executor.submit(add, 1, 2);
 * await executor.shutdown();
 * assert.equal(await future.result(), 3);
 * ```
 */
export class ProcessPoolExecutor implements AsyncDisposable {
  #pool: Pool;
  // deno-lint-ignore no-explicit-any
  #futures = new Set<Future<any>>();
  #shutdown = false;

  /**
   * Starts the workers.
   *
   * @param options `maxWorkers`, `backend`, `initializer`, `initArgs`,
   * `maxTasksPerChild`.
   * @throws {RangeError} When `maxWorkers` is not a positive integer.
   * @throws {TypeError} As {@linkcode Pool}'s constructor.
   *
   * @example Two workers on the subprocess backend
   * ```ts
   * import { ProcessPoolExecutor } from "@mp/multiprocessing/futures";
   *
   * await using executor = new ProcessPoolExecutor({ maxWorkers: 2, backend: "subprocess" });
   * ```
   */
  constructor(options: ExecutorOptions = {}) {
    const { maxWorkers, ...rest } = options;
    this.#pool = new Pool({ ...rest, processes: maxWorkers });
  }

  /**
   * Runs `fn(...args)` in a worker (Python's `submit`).
   *
   * @typeParam A `fn`'s parameter list.
   * @typeParam R What `fn` returns.
   * @param fn An exported function, or `{ module, export }`.
   * @param args Its arguments.
   * @returns The future of its result.
   * @throws {ProcessError} After {@linkcode ProcessPoolExecutor.shutdown}.
   *
   * @example The result of a future
   * ```ts
   * import { ProcessPoolExecutor } from "@mp/multiprocessing/futures";
   * import assert from "node:assert/strict";
   *
   * const add = {
   *   module: "data:text/javascript,export const add = (a, b) => a + b;",
   *   export: "add",
   * };
   * await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
   * assert.equal(await executor.submit(add, 2, 2).result(), 4);
   * ```
   */
  // deno-lint-ignore no-explicit-any
  submit<A extends any[], R>(
    fn: PoolFunction<A, R>,
    ...args: A
  ): Future<Awaited<R>> {
    this.#checkOpen();
    const future = this.#pool.submit(fn, ...args);
    this.#futures.add(future);
    future.addDoneCallback(() => this.#futures.delete(future));
    return future;
  }

  /**
   * Calls `fn` on items taken one from each iterable, as Python's
   * `Executor.map(fn, *iterables)`: the results in order, as they come.
   * The items are read as workers take them (Python reads them all at
   * once).
   *
   * @typeParam A `fn`'s parameter list.
   * @typeParam R What `fn` returns.
   * @param fn An exported function, or `{ module, export }`.
   * @param args The iterables (one per parameter), then optionally the
   * options `{ timeout, chunksize }`.
   * @returns The results, in order.
   * @throws {TimeoutError} (from the iteration) When a result is not there
   * within `timeout` ms of the call; the tasks still running are stopped.
   * @throws {Error} (from the iteration) The first error a task threw.
   *
   * @example Two iterables, as Python's map(pow, [2, 3], [5, 2])
   * ```ts
   * import { ProcessPoolExecutor } from "@mp/multiprocessing/futures";
   * import assert from "node:assert/strict";
   *
   * const pow = {
   *   module: "data:text/javascript,export const pow = (a, b) => a ** b;",
   *   export: "pow",
   * };
   * await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
   * assert.deepEqual(await Array.fromAsync(executor.map(pow, [2, 3], [5, 2])), [32, 9]);
   * ```
   */
  // deno-lint-ignore no-explicit-any
  map<A extends any[], R>(
    fn: PoolFunction<A, R>,
    ...iterables: MapIterables<A>
  ): AsyncIterableIterator<Awaited<R>>;
  /**
   * Like the other form, with the options `{ timeout, chunksize }` last.
   *
   * @typeParam R What `fn` returns.
   * @param fn An exported function, or `{ module, export }`.
   * @param args The iterables (one per parameter), then the options.
   * @returns The results, in order.
   *
   * @example A chunksize
   * ```ts
   * import { ProcessPoolExecutor } from "@mp/multiprocessing/futures";
   * import assert from "node:assert/strict";
   *
   * const inc = {
   *   module: "data:text/javascript,export const inc = (x) => x + 1;",
   *   export: "inc",
   * };
   * await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
   * const results = executor.map(inc, [1, 2, 3], { chunksize: 2 });
   * assert.deepEqual(await Array.fromAsync(results), [2, 3, 4]);
   * ```
   */
  map<R>(
    // deno-lint-ignore no-explicit-any
    fn: PoolFunction<any[], R>,
    ...args: [...Iterable<unknown>[], ExecutorMapOptions]
  ): AsyncIterableIterator<Awaited<R>>;
  map<R>(
    // deno-lint-ignore no-explicit-any
    fn: PoolFunction<any[], R>,
    ...args: unknown[]
  ): AsyncIterableIterator<Awaited<R>> {
    this.#checkOpen();
    const last = args.at(-1);
    const options: ExecutorMapOptions = isOptions(last) ? last : {};
    const iterables = (isOptions(last) ? args.slice(0, -1) : args) as Iterable<
      unknown
    >[];
    return this.#pool.imap(
      fn as PoolFunction<[unknown], R>,
      zip(iterables),
      { ...options, [STARRED]: true } as MapOptions,
    );
  }

  /**
   * Ends the executor (Python's `shutdown`): it takes no more tasks.
   *
   * @param options `wait` (default `true`): wait for the tasks given so far
   * and the workers' end; `cancelFutures` (default `false`): cancel the
   * tasks no worker took yet.
   *
   * @example Cancel what has not started
   * ```ts
   * import { ProcessPoolExecutor } from "@mp/multiprocessing/futures";
   *
   * const executor = new ProcessPoolExecutor({ maxWorkers: 1 });
   * await executor.shutdown({ cancelFutures: true });
   * ```
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    const { wait = true, cancelFutures = false } = options;
    this.#shutdown = true;
    if (cancelFutures) { for (const future of this.#futures) future.cancel(); }
    this.#pool.close();
    if (wait) await this.#pool.join();
  }

  /**
   * Shuts down and waits (Python's `with ProcessPoolExecutor() as e:`).
   *
   * @example The executor ends with the scope
   * ```ts
   * import { ProcessPoolExecutor } from "@mp/multiprocessing/futures";
   *
   * {
   *   await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
   * }
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  #checkOpen(): void {
    if (this.#shutdown) {
      throw new ProcessError(
        "The executor was shut down: it takes no new tasks; make a new ProcessPoolExecutor",
      );
    }
  }
}

/** The iterables of `map`, one per parameter of the function. */
// deno-lint-ignore no-explicit-any
export type MapIterables<A extends any[]> = {
  [K in keyof A]: Iterable<A[K]>;
};

function isOptions(value: unknown): value is ExecutorMapOptions {
  return typeof value === "object" && value !== null &&
    !(Symbol.iterator in value);
}

/** Argument lists taken one from each iterable, until the shortest ends. */
function* zip(iterables: Iterable<unknown>[]): Generator<unknown[]> {
  const iterators = iterables.map((it) => it[Symbol.iterator]());
  try {
    while (true) {
      const next = iterators.map((it) => it.next());
      if (next.some((r) => r.done)) return;
      yield next.map((r) => r.value);
    }
  } finally {
    for (const it of iterators) it.return?.();
  }
}

/**
 * Yields each future as it is over, the first done first (Python's
 * `as_completed`); futures over already come first.
 *
 * @typeParam T The futures' result.
 * @param futures The futures.
 * @param options `timeout`: milliseconds from the call within which all must
 * be over.
 * @returns The futures, as they are over.
 * @throws {TimeoutError} (from the iteration) When some are not over in time.
 *
 * @example The first done first
 * ```ts
 * import { asCompleted, ProcessPoolExecutor } from "@mp/multiprocessing/futures";
 * import assert from "node:assert/strict";
 *
 * const sleep = {
 *   module: "data:text/javascript,export const sleep = (ms) => new Promise((r) => setTimeout(() => r(ms), ms));",
 *   export: "sleep",
 * };
 * await using executor = new ProcessPoolExecutor({ maxWorkers: 1 });
 * const futures = [300, 10].map((ms) => executor.submit(sleep, ms));
 * const order: unknown[] = [];
 * for await (const future of asCompleted(futures.toReversed())) {
 *   order.push(await future.result());
 * }
 * assert.deepEqual(order, [300, 10]); // one worker: the first one first
 * ```
 */
export async function* asCompleted<T>(
  futures: Iterable<Future<T>>,
  options: { timeout?: number } = {},
): AsyncGenerator<Future<T>> {
  const deadline = deadlineOf(options.timeout);
  const pending = new Set(futures);
  for (const future of pending) {
    if (future.done()) {
      pending.delete(future);
      yield future;
    }
  }
  while (pending.size) {
    const next = Promise.race(
      [...pending].map((future) => future.settled.then(() => future)),
    );
    if (!await settlesBy(next, deadline)) {
      throw new TimeoutError(
        `${pending.size} of the futures were not done within ${options.timeout} ms`,
      );
    }
    const future = await next;
    pending.delete(future);
    yield future;
  }
}

/** What {@linkcode wait} returns: the futures over, and the others. */
export interface DoneAndNotDone<T> {
  /** The futures that are over. */
  done: Set<Future<T>>;
  /** The futures that are not. */
  notDone: Set<Future<T>>;
}

/**
 * Waits until some or all of the futures are over (Python's
 * `concurrent.futures.wait`), or the timeout passes.
 *
 * @typeParam T The futures' result.
 * @param futures The futures.
 * @param options `timeout` in ms (default: no limit); `returnWhen`:
 * {@linkcode ALL_COMPLETED} (default), {@linkcode FIRST_COMPLETED} or
 * {@linkcode FIRST_EXCEPTION}.
 * @returns The futures over, and the others.
 * @throws {RangeError} (rejects) For a negative timeout or an unknown
 * `returnWhen`.
 *
 * @example The first one
 * ```ts
 * import { FIRST_COMPLETED, ProcessPoolExecutor, wait } from "@mp/multiprocessing/futures";
 * import assert from "node:assert/strict";
 *
 * const sleep = {
 *   module: "data:text/javascript,export const sleep = (ms) => new Promise((r) => setTimeout(() => r(ms), ms));",
 *   export: "sleep",
 * };
 * await using executor = new ProcessPoolExecutor({ maxWorkers: 2 });
 * const futures = [300, 10].map((ms) => executor.submit(sleep, ms));
 * const { done, notDone } = await wait(futures, { returnWhen: FIRST_COMPLETED });
 * assert.equal(done.size + notDone.size, 2);
 * assert.ok(done.size >= 1);
 * await wait(futures);
 * ```
 */
export async function wait<T>(
  futures: Iterable<Future<T>>,
  options: { timeout?: number; returnWhen?: ReturnWhen } = {},
): Promise<DoneAndNotDone<T>> {
  const { timeout, returnWhen = ALL_COMPLETED } = options;
  if (![FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED].includes(returnWhen)) {
    throw new RangeError(
      `returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${
        String(returnWhen)
      }`,
    );
  }
  const deadline = deadlineOf(timeout);
  const all = [...new Set(futures)];
  const failed = (f: Future<T>) =>
    f.done() && !f.cancelled() && f.exception().then(
      (error) => error !== undefined,
    );
  const enough = async () => {
    const done = all.filter((f) => f.done());
    if (returnWhen === ALL_COMPLETED) return done.length === all.length;
    if (returnWhen === FIRST_COMPLETED) return done.length > 0 || !all.length;
    for (const f of done) if (await failed(f)) return true;
    return done.length === all.length;
  };
  while (!await enough() && remaining(deadline) > 0) {
    const pending = all.filter((f) => !f.done()).map((f) => f.settled);
    await settlesBy(Promise.race(pending), deadline);
  }
  const done = new Set(all.filter((f) => f.done()));
  return { done, notDone: new Set(all.filter((f) => !done.has(f))) };
}
