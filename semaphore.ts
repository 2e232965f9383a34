// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Counting semaphores shared by processes: Python's
 * `multiprocessing.Semaphore` and `BoundedSemaphore`.
 *
 * ```ts
 * import { Semaphore } from "@mp/multiprocessing/semaphore";
 *
 * const slots = new Semaphore(2); // at most two holders at a time
 * {
 *   using _ = await slots.hold();
 *   console.log(slots.getValue()); // 1
 * }
 * ```
 *
 * A semaphore has no owner: any process may release it, and units that a
 * process acquired are not given back when it ends (as in Python). Use a
 * `Lock` where a holder that ends must not keep what it held.
 *
 * @module
 */
import { waitUntil, waitUntilSync, wake } from "./_shm/futex.ts";
import { checkRunning } from "./_shm/registry.ts";
import { giveBack } from "./_shm/give_back.ts";
import { acquireDeadline, Hold } from "./_shm/mutex.ts";
import { registerKind, toWire } from "./_wire.ts";
import type { WireContext, WireForm } from "./_wire.ts";
import { TimeoutError } from "./errors.ts";
import type { AcquireOptions, HoldOptions } from "./lock.ts";

export type { AcquireOptions, HoldOptions } from "./lock.ts";

const VALUE = 0;
const SEQ = 1;
const SLEEPERS = 2;
/** The bound of a BoundedSemaphore, or -1. */
const BOUND = 3;

let reviving: SharedArrayBuffer | undefined;
/** Set by `BoundedSemaphore` while it calls its base constructor. */
let bounded = false;

/**
 * A counter that `acquire()` decrements, waiting while it is zero, and
 * `release()` increments (Python's `multiprocessing.Semaphore`).
 *
 * @example Take the only unit, then give two back
 * ```ts
 * import { Semaphore } from "@mp/multiprocessing/semaphore";
 * import assert from "node:assert/strict";
 *
 * const sem = new Semaphore(1);
 * assert.equal(await sem.acquire(), true);
 * assert.equal(sem.acquireSync({ blocking: false }), false);
 * assert.equal(await sem.acquire({ timeout: 10 }), false);
 * sem.release(2);
 * assert.equal(sem.getValue(), 2);
 * ```
 */
export class Semaphore {
  #cells: Int32Array;
  #releaseOne = (): void => this.release();

  /**
   * Makes a semaphore.
   *
   * @param value The initial count (default 1).
   * @throws {RangeError} When `value` is negative or not an integer.
   *
   * @example Three units
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Semaphore(3).getValue(), 3);
   * assert.equal(new Semaphore().getValue(), 1);
   * ```
   */
  constructor(value?: number) {
    const buffer = reviving;
    const isBounded = bounded;
    reviving = undefined;
    bounded = false;
    this.#cells = new Int32Array(buffer ?? new SharedArrayBuffer(16));
    if (buffer) return;
    const initial = value ?? 1;
    checkCount(initial, 0, `The initial value of a ${this.constructor.name}`);
    this.#cells[VALUE] = initial;
    this.#cells[BOUND] = isBounded ? initial : -1;
  }

  /**
   * Decrements the count, waiting (without blocking the event loop) while
   * it is zero.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the count was decremented.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Wait for a unit, or give up
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * const sem = new Semaphore(1);
   * assert.equal(await sem.acquire(), true);
   * assert.equal(await sem.acquire({ timeout: 10 }), false);
   * sem.release();
   * ```
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    const deadline = acquireDeadline(options);
    if (this.#take()) return Promise.resolve(true);
    return waitUntil(this.#cells, SEQ, deadline, this.#take, SLEEPERS);
  }

  /**
   * Decrements the count, blocking the thread while it is zero.
   *
   * @param options `{ blocking: false }` to try once (a timeout is then
   * ignored, as in Python), or `{ timeout }`.
   * @returns Whether the count was decremented.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Try once without waiting
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * const sem = new Semaphore(1);
   * assert.equal(sem.acquireSync({ blocking: false }), true);
   * assert.equal(sem.acquireSync({ blocking: false }), false);
   * ```
   */
  acquireSync(options?: AcquireOptions): boolean {
    const deadline = acquireDeadline(options);
    return this.#take() ||
      waitUntilSync(this.#cells, SEQ, deadline, this.#take, SLEEPERS);
  }

  #take = (): boolean => {
    checkRunning();
    const cells = this.#cells;
    for (;;) {
      const value = Atomics.load(cells, VALUE);
      if (value <= 0) return false;
      if (Atomics.compareExchange(cells, VALUE, value, value - 1) === value) {
        return true;
      }
    }
  };

  /**
   * Increments the count by `n`, waking up to `n` waiters. Any process may
   * release.
   *
   * @param n How much to add (default 1).
   * @throws {RangeError} When `n` is not a positive integer, or (for a
   * `BoundedSemaphore`) when the count would exceed its initial value.
   *
   * @example Release one unit, or several at once
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * const sem = new Semaphore(0);
   * sem.release();
   * sem.release(2);
   * assert.equal(sem.getValue(), 3);
   * assert.throws(() => sem.release(0), RangeError);
   * ```
   */
  release(n?: number): void {
    n ??= 1;
    checkCount(n, 1, "The count to release");
    const cells = this.#cells;
    const bound = cells[BOUND];
    for (;;) {
      const value = Atomics.load(cells, VALUE);
      checkRunning();
      if (bound >= 0 && value + n > bound) {
        throw new RangeError(
          `BoundedSemaphore released too many times: its value ${value} + ${n} would exceed its bound ${bound}; release only what was acquired`,
        );
      }
      if (Atomics.compareExchange(cells, VALUE, value, value + n) === value) {
        break;
      }
    }
    wake(cells, SEQ, n, SLEEPERS);
  }

  /**
   * Gives back a unit an acquire took for a subprocess child that died
   * before it had it (see _shm/give_back.ts).
   *
   * @ignore
   */
  [giveBack](method: string, taken: unknown): boolean {
    if (taken !== true || !method.startsWith("acquire")) return false;
    this.release();
    return true;
  }

  /**
   * The current count (Python's `get_value()`).
   *
   * @returns The count.
   *
   * @example The count goes down as units are taken
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * const sem = new Semaphore(2);
   * sem.acquireSync();
   * assert.equal(sem.getValue(), 1);
   * ```
   */
  getValue(): number {
    return Atomics.load(this.#cells, VALUE);
  }

  /**
   * Acquires and returns a disposable that releases once:
   * `using _ = await sem.hold();` is Python's `with sem:`.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases once.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Hold a unit for a scope
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * const sem = new Semaphore(2);
   * {
   *   using _ = await sem.hold({ timeout: 100 });
   *   assert.equal(sem.getValue(), 1);
   * }
   * assert.equal(sem.getValue(), 2);
   * ```
   */
  async hold(options?: HoldOptions): Promise<Disposable> {
    if (!await this.acquire(options)) throw this.#timedOut(options);
    return new Hold(this.#releaseOne);
  }

  /**
   * The blocking twin of {@linkcode Semaphore.hold}.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases once.
   * @throws {TimeoutError} When the timeout passed first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Time out while no unit is free
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import { TimeoutError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const sem = new Semaphore(1);
   * using _ = sem.holdSync();
   * assert.throws(() => sem.holdSync({ timeout: 10 }), TimeoutError);
   * ```
   */
  holdSync(options?: HoldOptions): Disposable {
    if (!this.acquireSync(options)) throw this.#timedOut(options);
    return new Hold(this.#releaseOne);
  }

  #timedOut(options: HoldOptions | undefined): TimeoutError {
    return new TimeoutError(
      `Could not acquire the ${this.constructor.name} within ${options?.timeout} ms: its value stayed 0; wait longer, or release it where it was acquired`,
    );
  }

  /**
   * Releases once, so that `using _ = sem;` after an acquire releases at
   * the end of the scope.
   *
   * @throws {RangeError} When a `BoundedSemaphore` would exceed its bound.
   *
   * @example Release at the end of a scope
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * const sem = new Semaphore(1);
   * if (sem.acquireSync({ timeout: 100 })) {
   *   using _ = sem;
   *   assert.equal(sem.getValue(), 0);
   * }
   * assert.equal(sem.getValue(), 1);
   * ```
   */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * The state a child revives this semaphore from.
   *
   * @ignore
   */
  [toWire](_ctx: WireContext): WireForm {
    return {
      kind: this.#cells[BOUND] >= 0 ? "BoundedSemaphore" : "Semaphore",
      module: import.meta.url,
      state: this.#cells.buffer,
    };
  }
}

/**
 * A semaphore whose count may not exceed its initial value (Python's
 * `multiprocessing.BoundedSemaphore`): releasing more than was acquired
 * throws.
 *
 * @example Release only what was acquired
 * ```ts
 * import { BoundedSemaphore } from "@mp/multiprocessing/semaphore";
 * import assert from "node:assert/strict";
 *
 * const sem = new BoundedSemaphore(2);
 * await sem.acquire();
 * sem.release();
 * assert.throws(() => sem.release(), RangeError);
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /**
   * Makes a bounded semaphore.
   *
   * @param value The initial count and bound (default 1).
   * @throws {RangeError} When `value` is negative or not an integer.
   *
   * @example The initial value is the bound
   * ```ts
   * import { BoundedSemaphore } from "@mp/multiprocessing/semaphore";
   * import assert from "node:assert/strict";
   *
   * const sem = new BoundedSemaphore(2);
   * assert.throws(() => sem.release(), RangeError);
   * ```
   */
  constructor(value?: number) {
    bounded = true;
    super(value);
  }
}

/** The largest count a semaphore holds (its Int32 word, with room to add). */
const MAX_COUNT = 0x3fffffff;

function checkCount(value: number, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > MAX_COUNT) {
    throw new RangeError(
      `${what} must be a whole number from ${min} to ${MAX_COUNT}, got ${
        String(value)
      }`,
    );
  }
}

registerKind("Semaphore", (state) => {
  reviving = state as SharedArrayBuffer;
  return new Semaphore();
});
registerKind("BoundedSemaphore", (state) => {
  reviving = state as SharedArrayBuffer;
  return new BoundedSemaphore();
});
