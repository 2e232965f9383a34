// Targets for the test of terminate() on a child blocked in a library wait.
import type { Lock } from "../lock.ts";
import type { Queue } from "../queue.ts";

/**
 * Takes `held` (which its parent holds), blocking this thread, and counts in
 * `ticks` while it waits; it never gets the lock.
 */
export function waitBlocked(held: Lock, ticks: Int32Array): void {
  Atomics.store(ticks, 0, 1);
  Atomics.notify(ticks, 0);
  held.acquireSync();
  Atomics.store(ticks, 1, 1);
}

/**
 * Gets from `q` (empty, and only its parent puts), blocking this thread,
 * and records in `ticks` what it got; its parent ends it first.
 */
export function getBlocked(q: Queue<number>, ticks: Int32Array): void {
  Atomics.store(ticks, 0, 1);
  Atomics.notify(ticks, 0);
  Atomics.store(ticks, 1, q.getSync());
}
