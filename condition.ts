// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * A condition variable shared by processes: Python's
 * `multiprocessing.Condition`.
 *
 * ```ts
 * import { Condition } from "@mp/multiprocessing/condition";
 *
 * const cond = new Condition();
 * let ready = false; // in real use: shared state, such as a Value
 * setTimeout(async () => {
 *   using _ = await cond.hold();
 *   ready = true;
 *   cond.notifyAll();
 * }, 10);
 * {
 *   using _ = await cond.hold();
 *   console.log(await cond.waitFor(() => ready)); // true
 * }
 * ```
 *
 * Waiters are notified in the order they started waiting. A waiter that
 * ended (its process returned, failed or was terminated) is skipped, so a
 * notification is never spent on a process that cannot act on it. When the
 * holder of the underlying lock ends, the lock follows its own rule: the
 * next acquirer gets it (see `Lock`).
 *
 * @module
 */
import { notify, waitUntil, waitUntilSync, wake } from "./_shm/futex.ts";
import {
  type ConditionLock,
  type LockInternals,
  lockInternals,
} from "./_shm/mutex.ts";
import { checkRunning, identity, isAlive } from "./_shm/registry.ts";
import {
  allocate,
  type Memory,
  type MemoryForm,
  memoryForm,
  memoryOf,
  registerSegmentClass,
} from "./_shm/memory.ts";
import { deadlineOf, remaining } from "./_timeout.ts";
import {
  decodeSync,
  encode,
  registerKind,
  toWire,
  type WireContext,
  type WireForm,
} from "./_wire.ts";
import { type AcquireOptions, type HoldOptions, Lock, RLock } from "./lock.ts";
// Re-exported so that this entry point documents the types it names.
export type { AcquireOptions, HoldOptions } from "./lock.ts";

// Waiters beyond the slots wait on SEQ and wake on any notification.
const SEQ = 0;
const SLEEPERS = 1;
const TICKETS = 2;
const OVERFLOW = 3;
const SLOTS = 4;
const CAPACITY = 64;
const SLOT_WORDS = 4;
// A slot: its state, the waiter's ticket (arrival order) and pid.
const FREE = 0;
const WAITING = 1;
const NOTIFIED = 2;
const TICKET = 1;
const PID = 2;

let reviving: { buffer: Memory; lock: unknown } | undefined;

/** How one waiter waits: in a slot, or with the overflow. */
type Place = { slot: number } | { seen: number };

/**
 * A condition variable (Python's `multiprocessing.Condition`): processes
 * that hold its lock wait for a change that another process announces with
 * `notify()`.
 *
 * `wait()` and `notify()` require holding the lock, as in Python; without
 * it they throw a `RangeError`. Waiting beyond 64 processes at once still
 * works, but those extra waiters may wake on any notification, so wait in a
 * loop or use `waitFor`.
 *
 * @example Wait while holding the lock
 * ```ts
 * import { Condition } from "@mp/multiprocessing/condition";
 * import assert from "node:assert/strict";
 *
 * const cond = new Condition();
 * using _ = cond.holdSync();
 * assert.equal(await cond.wait(10), false); // no one notified
 * assert.equal(cond.waitForSync(() => true), true);
 * cond.notify(); // no one waits: nothing happens
 * ```
 */
export class Condition {
  #cells: Int32Array;
  #lock: ConditionLock;
  #internals: LockInternals;

  /**
   * Makes a condition variable.
   *
   * @param lock The lock to use (a `Lock` or `RLock`); a new `Lock` by
   * default. (Python's default is an RLock, whose owner is a thread; here
   * an RLock's owner is a whole process, so two async tasks of one process
   * would share its hold. A `Lock` keeps them apart; pass an `RLock` when
   * the code that holds the condition acquires it again.)
   * @throws {TypeError} When `lock` is not a `Lock` or `RLock`.
   *
   * @example On a new Lock, or on an RLock of one's own
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import { RLock } from "@mp/multiprocessing/lock";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * const lock = new RLock();
   * const shared = new Condition(lock);
   * using _ = shared.holdSync();
   * assert.equal(lock.locked(), true);
   * assert.equal(cond.acquireSync({ blocking: false }), true);
   * cond.release();
   * ```
   */
  constructor(lock?: Lock | RLock) {
    const revived = reviving;
    reviving = undefined;
    if (revived) {
      this.#cells = new Int32Array(revived.buffer);
      this.#lock = decodeSync(revived.lock) as ConditionLock;
    } else {
      if (
        lock !== undefined && !(lock instanceof Lock) &&
        !(lock instanceof RLock)
      ) {
        throw new TypeError(
          `The lock of a Condition must be a Lock or an RLock of this library, got ${
            lock === null ? "null" : typeof lock
          }: pass one, or nothing for a new Lock`,
        );
      }
      this.#cells = new Int32Array(
        allocate(4 * (SLOTS + CAPACITY * SLOT_WORDS)),
      );
      this.#lock = lock ?? new Lock();
    }
    this.#internals = this.#lock[lockInternals]();
  }

  /**
   * Acquires the underlying lock.
   *
   * @param options `{ blocking: false }` to try once, or `{ timeout }`.
   * @returns Whether it was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Acquire, then release
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * assert.equal(await cond.acquire({ timeout: 100 }), true);
   * cond.release();
   * ```
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /**
   * Acquires the underlying lock, blocking the thread.
   *
   * @param options `{ blocking: false }` to try once, or `{ timeout }`.
   * @returns Whether it was acquired.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Try once
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * assert.equal(cond.acquireSync({ blocking: false }), true);
   * assert.equal(cond.acquireSync({ blocking: false }), false);
   * cond.release();
   * ```
   */
  acquireSync(options?: AcquireOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /**
   * Releases the underlying lock.
   *
   * @throws {RangeError} When it is not held.
   *
   * @example Releasing a free condition throws
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * cond.acquireSync();
   * cond.release();
   * assert.throws(() => cond.release(), RangeError);
   * ```
   */
  release(): void {
    this.#lock.release();
  }

  /**
   * Acquires the underlying lock for a scope: `using _ = await cond.hold();`
   * is Python's `with cond:`.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases the lock once.
   * @throws {TimeoutError} When the timeout passed first.
   *
   * @example Notify while holding the lock
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   *
   * const cond = new Condition();
   * {
   *   using _ = await cond.hold();
   *   cond.notifyAll();
   * }
   * ```
   */
  hold(options?: HoldOptions): Promise<Disposable> {
    return this.#lock.hold(options);
  }

  /**
   * The blocking twin of {@linkcode Condition.hold}.
   *
   * @param options `{ timeout }` in milliseconds.
   * @returns A disposable that releases the lock once.
   * @throws {TimeoutError} When the timeout passed first.
   *
   * @example Hold for a scope, blocking the thread
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * {
   *   using _ = cond.holdSync({ timeout: 100 });
   *   assert.equal(cond.waitForSync(() => true), true);
   * }
   * ```
   */
  holdSync(options?: HoldOptions): Disposable {
    return this.#lock.holdSync(options);
  }

  /**
   * Releases the underlying lock: `using _ = cond;` after an acquire.
   *
   * @throws {RangeError} When it is not held.
   *
   * @example Release at the end of a scope
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * if (cond.acquireSync({ timeout: 100 })) {
   *   using _ = cond;
   * }
   * assert.equal(cond.acquireSync({ blocking: false }), true);
   * cond.release();
   * ```
   */
  [Symbol.dispose](): void {
    this.release();
  }

  /**
   * Releases the lock, waits (without blocking the event loop) until
   * notified or until the timeout passed, and takes the lock back.
   *
   * @param timeout Milliseconds to wait at most; `undefined` waits forever.
   * @returns `false` when the timeout passed, `true` otherwise.
   * @throws {RangeError} When this process does not hold the lock, or for a
   * negative or NaN timeout.
   *
   * @example Wait until notified
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * using _ = await cond.hold();
   * setTimeout(async () => {
   *   using _ = await cond.hold(); // another process, in real use
   *   cond.notify();
   * }, 10);
   * assert.equal(await cond.wait(5000), true);
   * ```
   */
  async wait(timeout?: number): Promise<boolean> {
    const deadline = deadlineOf(timeout);
    this.#checkOwned("wait on");
    const place = this.#enter();
    const saved = this.#internals.releaseAll();
    let notified = false;
    try {
      const [index, attempt, sleepers] = this.#waitOn(place);
      await waitUntil(this.#cells, index, deadline, attempt, sleepers);
    } finally {
      notified = this.#leave(place);
      await this.#internals.restore(saved);
    }
    return notified;
  }

  /**
   * The blocking twin of {@linkcode Condition.wait}.
   *
   * @param timeout Milliseconds to wait at most; `undefined` waits forever.
   * @returns `false` when the timeout passed, `true` otherwise.
   * @throws {RangeError} When this process does not hold the lock, or for a
   * negative or NaN timeout.
   *
   * @example Time out without a notification
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * using _ = cond.holdSync();
   * assert.equal(cond.waitSync(10), false);
   * assert.throws(() => new Condition().waitSync(10), RangeError);
   * ```
   */
  waitSync(timeout?: number): boolean {
    const deadline = deadlineOf(timeout);
    this.#checkOwned("wait on");
    const place = this.#enter();
    const saved = this.#internals.releaseAll();
    let notified = false;
    try {
      const [index, attempt, sleepers] = this.#waitOn(place);
      waitUntilSync(this.#cells, index, deadline, attempt, sleepers);
    } finally {
      notified = this.#leave(place);
      this.#internals.restoreSync(saved);
    }
    return notified;
  }

  /**
   * Waits until `predicate` returns true (Python's `wait_for`): checks it,
   * and waits for a notification after each false answer, until the
   * timeout passed.
   *
   * @param predicate Checked with the lock held; may return a promise.
   * @param timeout Milliseconds to wait at most; `undefined` waits forever.
   * @returns The predicate's last answer.
   * @throws {RangeError} When this process does not hold the lock, or for a
   * negative or NaN timeout.
   *
   * @example Wait until a shared value says so
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import { Value } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * const ready = new Value("i32", 0);
   * setTimeout(async () => {
   *   using _ = await cond.hold(); // another process, in real use
   *   ready.value = 1;
   *   cond.notifyAll();
   * }, 10);
   * using _ = await cond.hold();
   * assert.equal(await cond.waitFor(() => ready.value === 1, 5000), true);
   * ```
   */
  async waitFor(
    predicate: () => boolean | Promise<boolean>,
    timeout?: number,
  ): Promise<boolean> {
    const deadline = deadlineOf(timeout);
    let result = await predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      await this.wait(left === Infinity ? undefined : left);
      result = await predicate();
    }
    return result;
  }

  /**
   * The blocking twin of {@linkcode Condition.waitFor}.
   *
   * @param predicate Checked with the lock held.
   * @param timeout Milliseconds to wait at most; `undefined` waits forever.
   * @returns The predicate's last answer.
   * @throws {RangeError} When this process does not hold the lock, or for a
   * negative or NaN timeout.
   *
   * @example The predicate's last answer, after the timeout
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * using _ = cond.holdSync();
   * assert.equal(cond.waitForSync(() => false, 10), false);
   * ```
   */
  waitForSync(predicate: () => boolean, timeout?: number): boolean {
    const deadline = deadlineOf(timeout);
    let result = predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      this.waitSync(left === Infinity ? undefined : left);
      result = predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` waiters, longest waiting first.
   *
   * @param n How many (default 1).
   * @throws {RangeError} When this process does not hold the lock, or `n`
   * is negative or NaN.
   *
   * @example Notify one waiter, holding the lock
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   * import assert from "node:assert/strict";
   *
   * const cond = new Condition();
   * assert.throws(() => cond.notify(), RangeError); // the lock is not held
   * using _ = cond.holdSync();
   * cond.notify(1);
   * ```
   */
  notify(n?: number): void {
    n ??= 1;
    this.#checkOwned("notify on");
    if (!(n >= 0)) {
      throw new RangeError(
        `Cannot notify ${
          String(n)
        } waiters: pass a number from 0 up, or call notifyAll()`,
      );
    }
    const cells = this.#cells;
    let left = n;
    for (const slot of this.#waiting()) {
      if (left === 0) break;
      const index = SLOTS + slot * SLOT_WORDS;
      // Fails only when that waiter just timed out: take the next one.
      if (
        Atomics.compareExchange(cells, index, WAITING, NOTIFIED) === WAITING
      ) {
        // On segment memory only the kernel's futex reaches a sleeper.
        notify(cells, index, 1);
        left--;
      }
    }
    if (left > 0 && Atomics.load(cells, OVERFLOW) > 0) {
      wake(cells, SEQ, Infinity, SLEEPERS);
    }
  }

  /**
   * Wakes every waiter.
   *
   * @throws {RangeError} When this process does not hold the lock.
   *
   * @example Wake every waiter
   * ```ts
   * import { Condition } from "@mp/multiprocessing/condition";
   *
   * const cond = new Condition();
   * using _ = cond.holdSync();
   * cond.notifyAll();
   * ```
   */
  notifyAll(): void {
    this.notify(Infinity);
  }

  #checkOwned(what: string): void {
    checkRunning();
    if (!this.#internals.isOwned()) {
      throw new RangeError(
        `Cannot ${what} a Condition whose lock this process does not hold: acquire it first (using _ = await cond.hold())`,
      );
    }
  }

  /** The slots of live waiters, oldest first; frees those of dead ones. */
  #waiting(): number[] {
    const cells = this.#cells;
    const found: { slot: number; ticket: number }[] = [];
    for (let slot = 0; slot < CAPACITY; slot++) {
      const index = SLOTS + slot * SLOT_WORDS;
      if (Atomics.load(cells, index) !== WAITING) continue;
      if (!isAlive(Atomics.load(cells, index + PID))) {
        Atomics.compareExchange(cells, index, WAITING, FREE);
        continue;
      }
      found.push({ slot, ticket: Atomics.load(cells, index + TICKET) });
    }
    // Tickets wrap around after 2^32 waits; order by distance then.
    return found.sort((a, b) => (a.ticket - b.ticket) | 0).map((f) => f.slot);
  }

  /** Takes a place to wait, while the lock is held. */
  #enter(): Place {
    const cells = this.#cells;
    const ticket = Atomics.add(cells, TICKETS, 1);
    for (let slot = 0; slot < CAPACITY; slot++) {
      const index = SLOTS + slot * SLOT_WORDS;
      const state = Atomics.load(cells, index);
      if (state === WAITING && !isAlive(Atomics.load(cells, index + PID))) {
        // A waiter that ended and was never notified: reuse its slot.
        Atomics.compareExchange(cells, index, WAITING, FREE);
      } else if (state !== FREE) continue;
      // Only lock holders take slots, so this one stays ours; a notifier
      // (who also holds the lock) sees it complete.
      Atomics.store(cells, index + TICKET, ticket);
      Atomics.store(cells, index + PID, identity().pid);
      if (Atomics.compareExchange(cells, index, FREE, WAITING) === FREE) {
        return { slot };
      }
    }
    Atomics.add(cells, OVERFLOW, 1);
    return { seen: Atomics.load(cells, SEQ) };
  }

  /** The word to sleep on, what ends the sleep, and the sleepers' count. */
  #waitOn(place: Place): [number, () => boolean, number] {
    const cells = this.#cells;
    if ("slot" in place) {
      const index = SLOTS + place.slot * SLOT_WORDS;
      return [index, () => Atomics.load(cells, index) !== WAITING, -1];
    }
    return [SEQ, () => Atomics.load(cells, SEQ) !== place.seen, SLEEPERS];
  }

  /** Gives the place back; returns whether this waiter was notified. */
  #leave(place: Place): boolean {
    const cells = this.#cells;
    if ("slot" in place) {
      const index = SLOTS + place.slot * SLOT_WORDS;
      if (Atomics.compareExchange(cells, index, WAITING, FREE) === WAITING) {
        return false;
      }
      Atomics.store(cells, index, FREE);
      return true;
    }
    Atomics.sub(cells, OVERFLOW, 1);
    return Atomics.load(cells, SEQ) !== place.seen;
  }

  /**
   * The underlying lock's internals.
   *
   * @ignore
   */
  [lockInternals](): LockInternals {
    return this.#internals;
  }

  /**
   * The state a child revives this condition from.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    return {
      kind: "Condition",
      module: import.meta.url,
      state: {
        buffer: memoryForm(this.#cells.buffer, ctx.exporter !== undefined),
        lock: encode(this.#lock, ctx),
      },
    };
  }
}

registerKind("Condition", (state) => {
  const { buffer, lock } = state as { buffer: MemoryForm; lock: unknown };
  reviving = { buffer: memoryOf(buffer), lock };
  return new Condition();
});
registerSegmentClass(Condition);
