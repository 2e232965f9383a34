// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Locks shared by processes: Python's `multiprocessing.Lock` and `RLock`,
 * over a `SharedArrayBuffer`.
 *
 * Pass a lock to a child inside `args` (at any depth) and the child gets a
 * handle to the same lock. Waiting is async by default, so the main
 * thread's event loop keeps running; the `*Sync` twins block the thread
 * with `Atomics.wait`. Python's `with lock:` is `using`:
 *
 * ```ts
 * import { Lock } from "@mp/multiprocessing/lock";
 *
 * const lock = new Lock();
 * {
 *   using _ = await lock.hold();
 *   console.log("only one process at a time runs this");
 * } // released here
 * ```
 *
 * **A lock is never held forever by a process that ended.** In Python a
 * process that dies holding a lock leaves it locked for good. Here the next
 * acquirer gets the lock: when the holder ends (returns, throws, exits, is
 * terminated or killed), `acquire()` in any other process succeeds within a
 * bounded time (about 50 ms, at once in the parent of the child that
 * ended). It succeeds as if the lock had been released, so data the lock
 * protects may have been left half-updated by the process that ended.
 *
 * @module
 */
import { identity } from "./_shm/registry.ts";
import {
  acquireDeadline,
  checkShared,
  COUNT,
  Hold,
  type LockInternals,
  lockInternals,
  Mutex,
} from "./_shm/mutex.ts";
import { ownerEnded, registerKind, toWire } from "./_wire.ts";
import type { WireContext, WireForm } from "./_wire.ts";
import { TimeoutError } from "./errors.ts";

/** Options of `acquire()` and `acquireSync()`. */
export interface AcquireOptions {
  /** `false` tries once and returns at once (default `true`). */
  blocking?: boolean;
  /** Milliseconds to wait at most; `undefined` waits forever. */
  timeout?: number;
}

/** Options of `hold()` and `holdSync()`. */
export interface HoldOptions {
  /** Milliseconds to wait at most; `undefined` waits forever. */
  timeout?: number;
}

function timedOut(what: string, timeout: number | undefined): TimeoutError {
  return new TimeoutError(
    `Could not acquire the ${what} within ${timeout} ms: it is still held elsewhere; wait longer or find the process that holds it`,
  );
}

let revivingLock: SharedArrayBuffer | undefined;

/**
 * A lock shared by processes (Python's `multiprocessing.Lock`). Not
 * re-entrant: acquiring it again from the process that holds it waits for a
 * release. Any process may release it, as in Python.
 *
 * When the holder ends, the next acquirer gets the lock (see the module
 * documentation).
 *
 * @example Mutual exclusion, and `using` for a scoped hold
 * ```ts
 * import { Lock } from "@mp/multiprocessing/lock";
 * import assert from "node:assert/strict";
 *
 * const lock = new Lock();
 * assert.equal(await lock.acquire(), true);
 * assert.equal(lock.locked(), true);
 * assert.equal(await lock.acquire({ timeout: 10 }), false);
 * lock.release();
 *
 * {
 *   using _ = lock.holdSync();
 *   assert.equal(lock.acquireSync({ blocking: false }), false);
 * }
 * assert.equal(lock.locked(), false);
 * ```
 */
export class Lock {
  #mutex: Mutex;
  #release = (): void => this.release();

  /** Makes a lock, free. */
  constructor() {
    this.#mutex = new Mutex(revivingLock);
    revivingLock = undefined;
  }

  /**
   * Acquires the lock, waiting without blocking the event loop.
   *
   * @param options `{ blocking: false }` to try once, or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   * @throws {TypeError} When a timeout is given with `blocking: false`.
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    const deadline = acquireDeadline(options);
    const me = identity().pid;
    if (this.#mutex.tryAcquire(me)) return Promise.resolve(true);
    return this.#mutex.acquire(me, deadline);
  }

  /**
   * Acquires the lock, blocking the thread while it waits.
   *
   * @param options `{ blocking: false }` to try once, or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   * @throws {TypeError} When a timeout is given with `blocking: false`.
   * @throws {ProcessError} When this process holds the lock and no timeout
   * is given: no one could release it while the thread is blocked.
   */
  acquireSync(options?: AcquireOptions): boolean {
    const deadline = acquireDeadline(options);
    const me = identity().pid;
    return this.#mutex.tryAcquire(me) || this.#mutex.acquireSync(me, deadline);
  }

  /**
   * Releases the lock, from any process.
   *
   * @throws {RangeError} When the lock is not held.
   */
  release(): void {
    if (!this.#mutex.release()) {
      throw new RangeError(
        "Cannot release an unlocked Lock: release() must follow a successful acquire()",
      );
    }
  }

  /**
   * Whether some process holds the lock.
   *
   * @returns `true` when held.
   */
  locked(): boolean {
    return this.#mutex.owner() !== 0;
  }

  /**
   * Acquires the lock and returns a disposable that releases it: write
   * `using _ = await lock.hold();` for Python's `with lock:`.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases the lock once.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   */
  async hold(options?: HoldOptions): Promise<Disposable> {
    if (!await this.acquire(options)) {
      throw timedOut("Lock", options?.timeout);
    }
    return new Hold(this.#release);
  }

  /**
   * The blocking twin of {@linkcode Lock.hold}: `using _ = lock.holdSync();`.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases the lock once.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   * @throws {ProcessError} When this process holds the lock and no timeout
   * is given.
   */
  holdSync(options?: HoldOptions): Disposable {
    if (!this.acquireSync(options)) {
      throw timedOut("Lock", options?.timeout);
    }
    return new Hold(this.#release);
  }

  /**
   * Releases the lock, so that `lock.acquireSync(); using _ = lock;` holds
   * it for a scope.
   *
   * @throws {RangeError} When the lock is not held.
   */
  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal Used by `Condition`. */
  [lockInternals](): LockInternals {
    const mutex = this.#mutex;
    return {
      isOwned: () => mutex.owner() === identity().pid,
      releaseAll: () => {
        this.release();
        return 1;
      },
      restore: async () => {
        await mutex.acquire(identity().pid, Infinity);
      },
      restoreSync: () => {
        mutex.acquireSync(identity().pid, Infinity);
      },
    };
  }

  /** @internal The state a child revives this lock from. */
  [toWire](ctx: WireContext): WireForm {
    checkShared(ctx, "Lock");
    return {
      kind: "Lock",
      module: import.meta.url,
      state: this.#mutex.cells.buffer,
    };
  }

  /** @internal Frees the lock when a child that held it ended. */
  [ownerEnded](pid: number): void {
    this.#mutex.ownerEnded(pid);
  }
}

registerKind("Lock", (state) => {
  revivingLock = state as SharedArrayBuffer;
  return new Lock();
});

let revivingRLock: SharedArrayBuffer | undefined;

/**
 * A re-entrant lock shared by processes (Python's `multiprocessing.RLock`):
 * the process that holds it may acquire it again, and must release it as
 * many times. Only the holder may release it.
 *
 * The owner is a process: async code of one process that holds the lock
 * across an `await` shares the hold with other async code of that process.
 * When the holder ends, the next acquirer gets the lock with a count of one
 * (see the module documentation).
 *
 * @example
 * ```ts
 * import { RLock } from "@mp/multiprocessing/lock";
 * import assert from "node:assert/strict";
 *
 * const lock = new RLock();
 * await lock.acquire();
 * await lock.acquire(); // again, by the same process
 * lock.release();
 * assert.equal(lock.locked(), true);
 * lock.release();
 * assert.equal(lock.locked(), false);
 * assert.throws(() => lock.release(), RangeError);
 * ```
 */
export class RLock {
  #mutex: Mutex;
  #release = (): void => this.release();

  /** Makes a re-entrant lock, free. */
  constructor() {
    this.#mutex = new Mutex(revivingRLock);
    revivingRLock = undefined;
  }

  /**
   * Acquires the lock (again, when this process holds it), waiting without
   * blocking the event loop.
   *
   * @param options `{ blocking: false }` to try once, or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   * @throws {TypeError} When a timeout is given with `blocking: false`.
   */
  async acquire(options?: AcquireOptions): Promise<boolean> {
    const deadline = acquireDeadline(options);
    const me = identity().pid;
    if (this.#reenter(me)) return true;
    if (!await this.#mutex.acquire(me, deadline)) return false;
    this.#mutex.cells[COUNT] = 1;
    return true;
  }

  /**
   * Acquires the lock (again, when this process holds it), blocking the
   * thread while it waits.
   *
   * @param options `{ blocking: false }` to try once, or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   * @throws {TypeError} When a timeout is given with `blocking: false`.
   */
  acquireSync(options?: AcquireOptions): boolean {
    const deadline = acquireDeadline(options);
    const me = identity().pid;
    if (this.#reenter(me)) return true;
    if (!this.#mutex.acquireSync(me, deadline)) return false;
    this.#mutex.cells[COUNT] = 1;
    return true;
  }

  /** Takes the lock at once if it is free or this process holds it. */
  #reenter(me: number): boolean {
    // COUNT is touched only by the holder, and taking or giving the lock is
    // an atomic operation that orders it: plain reads and writes suffice.
    const mutex = this.#mutex;
    if (mutex.tryAcquire(me)) {
      mutex.cells[COUNT] = 1;
      return true;
    }
    if (mutex.owner() === me) {
      mutex.cells[COUNT]++;
      return true;
    }
    return false;
  }

  /**
   * Releases one level of the lock; the last release frees it.
   *
   * @throws {RangeError} When this process does not hold the lock.
   */
  release(): void {
    const mutex = this.#mutex;
    this.#checkOwned("release");
    if (--mutex.cells[COUNT] > 0) return;
    mutex.release();
  }

  #checkOwned(what: string): void {
    const owner = this.#mutex.owner();
    if (owner !== identity().pid) {
      throw new RangeError(
        `Cannot ${what} an RLock that this process does not hold (${
          owner === 0 ? "it is free" : `process ${owner} holds it`
        }): only the process that acquired it may release it`,
      );
    }
  }

  /**
   * Whether some process holds the lock.
   *
   * @returns `true` when held.
   */
  locked(): boolean {
    return this.#mutex.owner() !== 0;
  }

  /**
   * Acquires the lock and returns a disposable that releases it once:
   * `using _ = await rlock.hold();`.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases one level of the lock.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   */
  async hold(options?: HoldOptions): Promise<Disposable> {
    if (!await this.acquire(options)) {
      throw timedOut("RLock", options?.timeout);
    }
    return new Hold(this.#release);
  }

  /**
   * The blocking twin of {@linkcode RLock.hold}.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases one level of the lock.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   */
  holdSync(options?: HoldOptions): Disposable {
    if (!this.acquireSync(options)) {
      throw timedOut("RLock", options?.timeout);
    }
    return new Hold(this.#release);
  }

  /**
   * Releases one level of the lock, so that `using _ = rlock;` after an
   * acquire releases it at the end of the scope.
   *
   * @throws {RangeError} When this process does not hold the lock.
   */
  [Symbol.dispose](): void {
    this.release();
  }

  /** @internal Used by `Condition`. */
  [lockInternals](): LockInternals {
    const mutex = this.#mutex;
    return {
      isOwned: () => mutex.owner() === identity().pid,
      releaseAll: () => {
        this.#checkOwned("release");
        const count = mutex.cells[COUNT];
        mutex.cells[COUNT] = 0;
        mutex.release();
        return count;
      },
      restore: async (count) => {
        await mutex.acquire(identity().pid, Infinity);
        mutex.cells[COUNT] = count;
      },
      restoreSync: (count) => {
        mutex.acquireSync(identity().pid, Infinity);
        mutex.cells[COUNT] = count;
      },
    };
  }

  /** @internal The state a child revives this lock from. */
  [toWire](ctx: WireContext): WireForm {
    checkShared(ctx, "RLock");
    return {
      kind: "RLock",
      module: import.meta.url,
      state: this.#mutex.cells.buffer,
    };
  }

  /** @internal Frees the lock when a child that held it ended. */
  [ownerEnded](pid: number): void {
    this.#mutex.ownerEnded(pid);
  }
}

registerKind("RLock", (state) => {
  revivingRLock = state as SharedArrayBuffer;
  return new RLock();
});
