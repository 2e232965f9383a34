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
import { identity, runningPid } from "./_shm/registry.ts";
import {
  acquireDeadline,
  COUNT,
  Hold,
  type LockInternals,
  lockInternals,
  Mutex,
  STATE,
} from "./_shm/mutex.ts";
import {
  type Memory,
  type MemoryForm,
  memoryForm,
  memoryOf,
  registerSegmentClass,
} from "./_shm/memory.ts";
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

/** The state a handle being revived in a child takes over. */
let reviving: Memory | undefined;

/** How `Lock` and `RLock` reach the mutex of their `SemLock` part. */
let mutexOf: (lock: SemLock) => Mutex;

/**
 * What {@linkcode Lock} and {@linkcode RLock} share, as CPython's
 * `SemLock` is the base of its locks: one word of shared memory that says
 * which process holds the lock, scoped holds with `using`, and the rule
 * that a process that ended holds nothing. Make a `Lock` or an `RLock`;
 * this class is only their base.
 *
 * @example Either lock works where a `SemLock` is expected
 * ```ts
 * import { Lock, RLock, SemLock } from "@mp/multiprocessing/lock";
 * import assert from "node:assert/strict";
 *
 * function busy(lock: SemLock): boolean {
 *   return lock.locked();
 * }
 * const locks: SemLock[] = [new Lock(), new RLock()];
 * for (const lock of locks) {
 *   using _ = lock.holdSync();
 *   assert.equal(busy(lock), true);
 * }
 * ```
 */
export abstract class SemLock {
  #mutex: Mutex;
  #release = (): void => this.release();

  static {
    mutexOf = (lock) => lock.#mutex;
  }

  /**
   * Makes the lock, free (in a child: the handle to the lock it was
   * passed).
   *
   * @example Subclasses call it
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Lock().locked(), false);
   * ```
   */
  constructor() {
    this.#mutex = new Mutex(reviving);
    reviving = undefined;
  }

  /**
   * Acquires the lock, waiting without blocking the event loop; see
   * {@linkcode Lock.acquire} and {@linkcode RLock.acquire}.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Acquire and release
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * assert.equal(await lock.acquire({ timeout: 100 }), true);
   * lock.release();
   * ```
   */
  abstract acquire(options?: AcquireOptions): Promise<boolean>;

  /**
   * Acquires the lock, blocking the thread while it waits; see
   * {@linkcode Lock.acquireSync} and {@linkcode RLock.acquireSync}.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Try once
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * assert.equal(lock.acquireSync({ blocking: false }), true);
   * lock.release();
   * ```
   */
  abstract acquireSync(options?: AcquireOptions): boolean;

  /**
   * Releases the lock (one level of an `RLock`); see
   * {@linkcode Lock.release} and {@linkcode RLock.release}.
   *
   * @throws {RangeError} When the lock is not held (by this process, for an
   * `RLock`).
   *
   * @example Releasing a free lock throws
   * ```ts
   * import { RLock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * assert.throws(() => new RLock().release(), RangeError);
   * ```
   */
  abstract release(): void;

  /**
   * Whether some process holds the lock.
   *
   * @returns `true` when held.
   *
   * @example Free, then held
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * assert.equal(lock.locked(), false);
   * lock.acquireSync();
   * assert.equal(lock.locked(), true);
   * lock.release();
   * ```
   */
  locked(): boolean {
    return this.#mutex.owner() !== 0;
  }

  /**
   * Acquires the lock and returns a disposable that releases it: write
   * `using _ = await lock.hold();` for Python's `with lock:`.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases the lock (one level of an `RLock`)
   * once.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Hold for a scope, with a timeout
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import { TimeoutError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * {
   *   using _ = await lock.hold();
   *   await assert.rejects(lock.hold({ timeout: 10 }), TimeoutError);
   * }
   * assert.equal(lock.locked(), false);
   * ```
   */
  async hold(options?: HoldOptions): Promise<Disposable> {
    if (!await this.acquire(options)) throw this.#timedOut(options);
    return new Hold(this.#release);
  }

  /**
   * The blocking twin of {@linkcode SemLock.hold}:
   * `using _ = lock.holdSync();`.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases the lock (one level of an `RLock`)
   * once.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   * @throws {ProcessError} When this process holds a `Lock` already and no
   * timeout is given: no one could release it while the thread is blocked.
   *
   * @example Hold for a scope, blocking the thread
   * ```ts
   * import { RLock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new RLock();
   * {
   *   using _ = lock.holdSync();
   *   using _again = lock.holdSync(); // an RLock may be held again
   *   assert.equal(lock.locked(), true);
   * }
   * assert.equal(lock.locked(), false);
   * ```
   */
  holdSync(options?: HoldOptions): Disposable {
    if (!this.acquireSync(options)) throw this.#timedOut(options);
    return new Hold(this.#release);
  }

  #timedOut(options: HoldOptions | undefined): TimeoutError {
    return new TimeoutError(
      `Could not acquire the ${
        kindOf(this)
      } within ${options?.timeout} ms: it is still held elsewhere; wait longer or find the process that holds it`,
    );
  }

  /**
   * Releases the lock (one level of an `RLock`), so that
   * `lock.acquireSync(); using _ = lock;` holds it for a scope.
   *
   * @throws {RangeError} When the lock is not held (by this process, for an
   * `RLock`).
   *
   * @example Release at the end of a scope
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * if (lock.acquireSync({ timeout: 100 })) {
   *   using _ = lock;
   *   assert.equal(lock.locked(), true);
   * }
   * assert.equal(lock.locked(), false);
   * ```
   */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * What a `Condition` built on this lock needs of it.
   *
   * @ignore
   */
  [lockInternals](): LockInternals {
    // COUNT is 0 in a Lock and the re-entry count in an RLock: a wait
    // gives up every level and takes back as many.
    const mutex = this.#mutex;
    return {
      isOwned: () => mutex.owner() === identity().pid,
      releaseAll: () => {
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

  /**
   * The state a child revives this lock from.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    return {
      kind: kindOf(this),
      module: import.meta.url,
      state: memoryForm(this.#mutex.cells.buffer, ctx.exporter !== undefined),
    };
  }

  /**
   * Frees the lock when a child that held it ended.
   *
   * @ignore
   */
  [ownerEnded](pid: number): void {
    this.#mutex.ownerEnded(pid);
  }
}

/**
 * A lock shared by processes (Python's `multiprocessing.Lock`). Not
 * re-entrant: acquiring it again from the process that holds it waits for a
 * release. Any process may release it, as in Python.
 *
 * When the holder ends, the next acquirer gets the lock (see the module
 * documentation). `locked()`, `hold()`, `holdSync()` and `using` come from
 * {@linkcode SemLock}.
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
export class Lock extends SemLock {
  /**
   * Makes a lock, free.
   *
   * @example A new lock is free
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Lock().locked(), false);
   * ```
   */
  constructor() {
    super();
    this.#mutex = mutexOf(this);
    this.#cells = this.#mutex.cells;
  }

  /** The base's mutex and its words, kept here: read on every call. */
  #mutex: Mutex;
  #cells: Int32Array;

  /**
   * Acquires the lock, waiting without blocking the event loop.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Wait, try once, or give up after a timeout
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * assert.equal(await lock.acquire(), true);
   * assert.equal(await lock.acquire({ blocking: false }), false);
   * assert.equal(await lock.acquire({ timeout: 10 }), false);
   * lock.release();
   * ```
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    const deadline = acquireDeadline(options);
    const mutex = this.#mutex;
    const me = runningPid();
    if (mutex.tryAcquire(me)) return Promise.resolve(true);
    return mutex.acquire(me, deadline);
  }

  /**
   * Acquires the lock, blocking the thread while it waits.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   * @throws {ProcessError} When this process holds the lock and no timeout
   * is given: no one could release it while the thread is blocked.
   *
   * @example Acquire, and refuse to wait on one's own hold
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import { ProcessError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * assert.equal(lock.acquireSync(), true);
   * assert.equal(lock.acquireSync({ timeout: 10 }), false);
   * assert.throws(() => lock.acquireSync(), ProcessError);
   * lock.release();
   * ```
   */
  acquireSync(options?: AcquireOptions): boolean {
    // Few calls on the way to the first try: a fresh child runs its first
    // thousands of acquires unoptimized, where each call costs.
    const deadline = options === undefined
      ? Infinity
      : acquireDeadline(options);
    const me = runningPid();
    // Mutex.tryAcquire, without the call.
    return Atomics.compareExchange(this.#cells, STATE, 0, me) === 0 ||
      this.#mutex.acquireSync(me, deadline);
  }

  /**
   * Releases the lock, from any process.
   *
   * @throws {RangeError} When the lock is not held.
   *
   * @example Release, and release too often
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * lock.acquireSync();
   * lock.release();
   * assert.throws(() => lock.release(), RangeError);
   * ```
   */
  release(): void {
    const me = runningPid();
    // Mutex.releaseOwn, without the call.
    if (Atomics.compareExchange(this.#cells, STATE, me, 0) === me) return;
    if (!this.#mutex.release()) {
      throw new RangeError(
        "Cannot release a Lock that is not held: call release() only after a successful acquire()",
      );
    }
  }
}

/**
 * A re-entrant lock shared by processes (Python's `multiprocessing.RLock`):
 * the process that holds it may acquire it again, and must release it as
 * many times. Only the holder may release it.
 *
 * The owner is a process: async code of one process that holds the lock
 * across an `await` shares the hold with other async code of that process.
 * When the holder ends, the next acquirer gets the lock with a count of one
 * (see the module documentation). `locked()`, `hold()`, `holdSync()` and
 * `using` come from {@linkcode SemLock}.
 *
 * @example Acquire twice, release twice
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
export class RLock extends SemLock {
  /**
   * Makes a re-entrant lock, free.
   *
   * @example A new lock is free
   * ```ts
   * import { RLock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new RLock().locked(), false);
   * ```
   */
  constructor() {
    super();
    this.#mutex = mutexOf(this);
    this.#cells = this.#mutex.cells;
  }

  /** The base's mutex and its words, kept here: read on every call. */
  #mutex: Mutex;
  #cells: Int32Array;

  /**
   * Acquires the lock (again, when this process holds it), waiting without
   * blocking the event loop.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Acquire again while holding it
   * ```ts
   * import { RLock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new RLock();
   * assert.equal(await lock.acquire(), true);
   * assert.equal(await lock.acquire({ blocking: false }), true);
   * lock.release();
   * lock.release();
   * ```
   */
  async acquire(options?: AcquireOptions): Promise<boolean> {
    const deadline = acquireDeadline(options);
    const me = runningPid();
    if (this.#reenter(me)) return true;
    const mutex = this.#mutex;
    if (!await mutex.acquire(me, deadline)) return false;
    mutex.cells[COUNT] = 1;
    return true;
  }

  /**
   * Acquires the lock (again, when this process holds it), blocking the
   * thread while it waits.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the lock was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Acquire again, blocking the thread
   * ```ts
   * import { RLock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new RLock();
   * assert.equal(lock.acquireSync(), true);
   * assert.equal(lock.acquireSync(), true);
   * lock.release();
   * lock.release();
   * assert.equal(lock.locked(), false);
   * ```
   */
  acquireSync(options?: AcquireOptions): boolean {
    // Few calls on the way to the first try: a fresh child runs its first
    // thousands of acquires unoptimized, where each call costs.
    const deadline = options === undefined
      ? Infinity
      : acquireDeadline(options);
    const cells = this.#cells;
    const me = runningPid();
    // Mutex.tryAcquire, without the call.
    if (Atomics.compareExchange(cells, STATE, 0, me) === 0) {
      cells[COUNT] = 1;
      return true;
    }
    if (this.#reenter(me)) return true;
    if (!this.#mutex.acquireSync(me, deadline)) return false;
    cells[COUNT] = 1;
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
   *
   * @example Only the last release frees it
   * ```ts
   * import { RLock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const lock = new RLock();
   * lock.acquireSync();
   * lock.acquireSync();
   * lock.release();
   * assert.equal(lock.locked(), true);
   * lock.release();
   * assert.equal(lock.locked(), false);
   * ```
   */
  release(): void {
    const cells = this.#cells;
    const me = runningPid();
    // The last release of a hold that no one waits on: one swap, and no
    // separate read of the owner. COUNT is read before the owner is known:
    // a process that does not hold the lock may read any count, but then
    // its swap fails and it takes the checked path. COUNT keeps its 1 on
    // the free lock: every acquisition of an RLock sets it, so no one
    // reads a free lock's count.
    if (
      cells[COUNT] === 1 &&
      Atomics.compareExchange(cells, STATE, me, 0) === me
    ) return;
    const mutex = this.#mutex;
    const owner = mutex.owner();
    if (owner !== me) {
      throw new RangeError(
        `Cannot release an RLock that this process does not hold (${
          owner === 0 ? "it is free" : `process ${owner} holds it`
        }): release it in the process that acquired it, once per acquire`,
      );
    }
    if (--mutex.cells[COUNT] > 0) return;
    if (!mutex.releaseOwn(owner)) mutex.release();
  }
}

/** The kind a lock crosses the wire as, and names itself by in messages. */
function kindOf(lock: SemLock): "Lock" | "RLock" {
  return lock instanceof RLock ? "RLock" : "Lock";
}

registerKind("Lock", (state) => {
  reviving = memoryOf(state as MemoryForm);
  return new Lock();
});
registerKind("RLock", (state) => {
  reviving = memoryOf(state as MemoryForm);
  return new RLock();
});
registerSegmentClass(SemLock);
