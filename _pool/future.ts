// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The Future of a submitted task (Python's `concurrent.futures.Future`),
// apart from the pool so that futures.ts (the executor, asCompleted, wait)
// and pool.ts (submit) both use it without importing each other.
import { CancelledError, TimeoutError } from "../errors.ts";
import { deadlineOf, settlesBy } from "../_timeout.ts";

/** What a Future asks of whatever runs its task. */
export interface FutureControl {
  /** Whether the task runs now. */
  running(): boolean;
  /** Drops the task, failing it with `reason`, unless it started: whether it was dropped. */
  cancel(reason: CancelledError): boolean;
}

type State = "pending" | "cancelled" | "fulfilled" | "rejected";

/**
 * The eventual result of a task given to a pool or an executor (Python's
 * `concurrent.futures.Future`). `await future.result()` gives it;
 * `cancel()` drops the task while no worker has taken it.
 *
 * @typeParam T The task's result.
 *
 * @example Cancel a task that has not started
 * ```ts
 * import { Pool } from "@mp/multiprocessing/pool";
 * import { CancelledError } from "@mp/multiprocessing/errors";
 * import assert from "node:assert/strict";
 *
 * const sleep = {
 *   module: "data:text/javascript,export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));",
 *   export: "sleep",
 * };
 * await using pool = new Pool({ processes: 1 });
 * const first = pool.submit(sleep, 200);
 * const second = pool.submit(sleep, 200);
 * await first.result(); // second waited behind it until now, or runs now
 * const third = pool.submit(sleep, 10);
 * const fourth = pool.submit(sleep, 10);
 * if (fourth.cancel()) {
 *   assert.equal(fourth.cancelled(), true);
 *   await assert.rejects(fourth.result(), CancelledError);
 * }
 * await Promise.all([second.result(), third.result()]);
 * ```
 */
export class Future<T> {
  #state: State = "pending";
  #value: T | undefined;
  #error: unknown;
  #settled: Promise<void>;
  #control: FutureControl;
  // Closures, not the callbacks: a Future<number> is then a Future<unknown>.
  #callbacks: (() => void)[] = [];

  /**
   * Wraps the promise of a task's result; made by `Pool.submit` and
   * `ProcessPoolExecutor.submit`, not by users.
   *
   * @param result The task's result.
   * @param control How to ask whether it runs, and to cancel it.
   */
  constructor(result: Promise<T>, control: FutureControl) {
    this.#control = control;
    this.#settled = result.then(
      (value) => this.#settle("fulfilled", value, undefined),
      (error) =>
        this.#settle(
          error instanceof CancelledError ? "cancelled" : "rejected",
          undefined,
          error,
        ),
    );
  }

  /**
   * Cancels the task unless a worker took it already (Python's `cancel`).
   *
   * @returns Whether the task is cancelled (also `true` when it was before).
   *
   * @example A finished task cannot be cancelled
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const one = { module: "data:text/javascript,export const one = () => 1;", export: "one" };
   * await using pool = new Pool({ processes: 1 });
   * const future = pool.submit(one);
   * await future.result();
   * assert.equal(future.cancel(), false);
   * ```
   */
  cancel(): boolean {
    if (this.#state === "cancelled") return true;
    if (this.#state !== "pending") return false;
    const reason = new CancelledError(
      "The task was cancelled before a worker took it",
    );
    if (!this.#control.cancel(reason)) return false;
    // At once, as Python's: cancelled() and the callbacks need no await.
    this.#settle("cancelled", undefined, reason);
    return true;
  }

  /**
   * Whether the task was cancelled.
   *
   * @returns `true` once cancelled.
   *
   * @example Not cancelled
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const one = { module: "data:text/javascript,export const one = () => 1;", export: "one" };
   * await using pool = new Pool({ processes: 1 });
   * const future = pool.submit(one);
   * await future.result();
   * assert.equal(future.cancelled(), false);
   * ```
   */
  cancelled(): boolean {
    return this.#state === "cancelled";
  }

  /**
   * Whether a worker runs the task now.
   *
   * @returns `true` while it runs.
   *
   * @example Not running once done
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const one = { module: "data:text/javascript,export const one = () => 1;", export: "one" };
   * await using pool = new Pool({ processes: 1 });
   * const future = pool.submit(one);
   * await future.result();
   * assert.equal(future.running(), false);
   * ```
   */
  running(): boolean {
    return this.#state === "pending" && this.#control.running();
  }

  /**
   * Whether the task is over: it returned, threw, or was cancelled.
   *
   * @returns `true` once over.
   *
   * @example Done after its result
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const one = { module: "data:text/javascript,export const one = () => 1;", export: "one" };
   * await using pool = new Pool({ processes: 1 });
   * const future = pool.submit(one);
   * assert.equal(await future.result(), 1);
   * assert.equal(future.done(), true);
   * ```
   */
  done(): boolean {
    return this.#state !== "pending";
  }

  /**
   * Waits for the task's result (Python's `result(timeout)`).
   *
   * @param timeout Milliseconds to wait at most (default: no limit).
   * @returns The result.
   * @throws {TimeoutError} (rejects) When the task is not over in time (it
   * goes on: cancel it, or give the pool call a `timeout` to stop it).
   * @throws {CancelledError} (rejects) When the task was cancelled.
   * @throws {RangeError} (rejects) When `timeout` is negative.
   * @throws {Error} (rejects) What the task threw.
   *
   * @example A timeout
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import { TimeoutError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const sleep = {
   *   module: "data:text/javascript,export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));",
   *   export: "sleep",
   * };
   * await using pool = new Pool({ processes: 1 });
   * const future = pool.submit(sleep, 300);
   * await assert.rejects(future.result(10), TimeoutError);
   * await future.result();
   * ```
   */
  async result(timeout?: number): Promise<T> {
    await this.#wait(timeout);
    if (this.#state === "fulfilled") return this.#value as T;
    throw this.#error;
  }

  /**
   * Waits for the task and gives what it threw (Python's `exception`).
   *
   * @param timeout Milliseconds to wait at most (default: no limit).
   * @returns The task's error, or `undefined` when it returned.
   * @throws {TimeoutError} (rejects) When the task is not over in time.
   * @throws {CancelledError} (rejects) When the task was cancelled.
   *
   * @example A task that threw
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const fail = {
   *   module: "data:text/javascript,export const fail = () => { throw new RangeError('no'); };",
   *   export: "fail",
   * };
   * await using pool = new Pool({ processes: 1 });
   * const error = await pool.submit(fail).exception();
   * assert.ok(error instanceof RangeError);
   * ```
   */
  async exception(timeout?: number): Promise<unknown> {
    await this.#wait(timeout);
    if (this.#state === "cancelled") throw this.#error;
    return this.#state === "rejected" ? this.#error : undefined;
  }

  /**
   * Calls `fn(future)` once the task is over, or at once when it is
   * (Python's `add_done_callback`). What `fn` throws is reported, not
   * thrown.
   *
   * @param fn The callback.
   *
   * @example Told when done
   * ```ts
   * import { Pool } from "@mp/multiprocessing/pool";
   * import assert from "node:assert/strict";
   *
   * const one = { module: "data:text/javascript,export const one = () => 1;", export: "one" };
   * await using pool = new Pool({ processes: 1 });
   * const future = pool.submit(one);
   * const done = Promise.withResolvers<boolean>();
   * future.addDoneCallback((f) => done.resolve(f.done()));
   * assert.equal(await done.promise, true);
   * ```
   */
  addDoneCallback(fn: (future: Future<T>) => void): void {
    if (this.#state === "pending") this.#callbacks.push(() => this.#call(fn));
    else this.#call(fn);
  }

  /**
   * Settles once the task is over, whatever its outcome: for `asCompleted`
   * and `wait`.
   *
   * @returns A promise that never rejects.
   * @ignore
   */
  get settled(): Promise<void> {
    return this.#settled;
  }

  async #wait(timeout: number | undefined): Promise<void> {
    const deadline = deadlineOf(timeout);
    if (!await settlesBy(this.#settled, deadline)) {
      throw new TimeoutError(
        `The task was not done within ${timeout} ms: wait longer, or cancel() it`,
      );
    }
  }

  #settle(state: State, value: T | undefined, error: unknown): void {
    if (this.#state !== "pending") return;
    this.#state = state;
    this.#value = value;
    this.#error = error;
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    for (const call of callbacks) call();
  }

  #call(fn: (future: Future<T>) => void): void {
    try {
      fn(this);
    } catch (error) {
      reportError(error);
    }
  }
}
