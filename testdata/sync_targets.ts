// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for the tests of the synchronization primitives and
// shared memory. Each test starts them by { module, export }.
import type { Barrier } from "../barrier.ts";
import type { Condition } from "../condition.ts";
import type { Event } from "../event.ts";
import type { Lock, RLock } from "../lock.ts";
import type { Semaphore } from "../semaphore.ts";
import type { SharedArray, Value } from "../shared.ts";
import { type Backend, Process } from "../process.ts";

/** Shared numbers: an `Array("i32", n)` of this library (any backend). */
type Ints = SharedArray<"i32">;

/** This module, for `{ module: TARGETS, export: name }`. */
export const TARGETS: string = import.meta.url;

/** Keeps the CPU busy for a moment without giving up the thread. */
function spin(rounds: number): number {
  let x = 0;
  for (let i = 0; i < rounds; i++) x = (x + i * i) % 7919;
  return x;
}

/**
 * A read-modify-write of `counter[0]` with a pause between the read and
 * the write: without a lock, increments of other processes get lost.
 */
function slowIncrement(counter: Ints): void {
  const value = counter[0];
  spin(200);
  counter[0] = value + 1;
}

/**
 * `times` slow increments, each under the lock (async or blocking), once
 * every child is ready to start.
 */
export async function incrementLocked(
  lock: Lock | RLock,
  counter: Ints,
  times: number,
  sync: boolean,
  start: Barrier,
): Promise<void> {
  await start.wait();
  for (let i = 0; i < times; i++) {
    if (sync) {
      using _ = lock.holdSync();
      slowIncrement(counter);
    } else {
      using _ = await lock.hold();
      slowIncrement(counter);
    }
  }
}

/** `times` slow increments with no lock: the control run. */
export async function incrementUnlocked(
  counter: Ints,
  times: number,
  start: Barrier,
): Promise<void> {
  await start.wait();
  for (let i = 0; i < times; i++) slowIncrement(counter);
}

/** Takes the lock, says so, and waits (holding it) for an event never set. */
export async function holdForever(
  lock: Lock | RLock,
  held: Event,
  never: Event,
): Promise<void> {
  await lock.acquire();
  held.set();
  await never.wait();
}

/** Takes the lock and returns without releasing it. */
export async function acquireAndReturn(lock: Lock | RLock): Promise<void> {
  await lock.acquire();
}

/** Acquires the lock (blocking) and says so in `got`. */
export function acquireThenSet(lock: Lock | RLock, got: Event): void {
  lock.acquireSync();
  got.set();
  lock.release();
}

/**
 * Keeps taking and giving back the lock as fast as it can until `stop` is
 * set: steady contention for whoever else wants the lock.
 */
export function hammer(lock: Lock, started: Event, stop: Event): void {
  started.set();
  while (!stop.isSet()) {
    lock.acquireSync();
    spin(50);
    lock.release();
  }
}

/** Releases a lock that this process does not hold (an error for an RLock). */
export function releaseForeign(lock: Lock | RLock): void {
  lock.release();
}

/** Tries the lock once and writes 1 (taken) or 0 into `result[0]`. */
export function tryOnce(lock: Lock | RLock, result: Ints): void {
  const taken = lock.acquireSync({ blocking: false });
  result[0] = taken ? 1 : 0;
  if (taken) lock.release();
}

/**
 * Tries a Lock and an RLock found deep inside `box`; writes bit 0 when the
 * Lock was taken and bit 1 when the RLock was.
 */
export function tryNested(
  box: { list: Map<string, Lock>[]; set: Set<RLock> },
  result: Ints,
): void {
  const lock = box.list[0].get("lock")!;
  const [rlock] = box.set;
  const bits = (lock.acquireSync({ blocking: false }) ? 1 : 0) |
    (rlock.acquireSync({ blocking: false }) ? 2 : 0);
  if (bits & 1) lock.release();
  if (bits & 2) rlock.release();
  result[0] = bits;
}

// --- Semaphore -------------------------------------------------------------

/**
 * Holds the semaphore `times` times, counting how many processes are
 * inside at once; `stats` is [inside now, most inside at once].
 */
export async function useSlot(
  sem: Semaphore,
  stats: Ints,
  times: number,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    using _ = await sem.hold();
    {
      using _stats = await stats.getLock().hold();
      stats[0] += 1;
      stats[1] = Math.max(stats[1], stats[0]);
    }
    spin(20000);
    using _stats = await stats.getLock().hold();
    stats[0] -= 1;
  }
}

/** Releases the semaphore `n` times. */
export function releaseSemaphore(sem: Semaphore, n: number): void {
  for (let i = 0; i < n; i++) sem.release();
}

// --- Event -----------------------------------------------------------------

/** Sets the event. */
export function setEvent(event: Event): void {
  event.set();
}

/** Waits for `go` (async or blocking), then sets `done`. */
export async function waitThenSet(
  go: Event,
  done: Event,
  sync: boolean,
): Promise<void> {
  if (sync) go.waitSync();
  else await go.wait();
  done.set();
}

// --- Condition -------------------------------------------------------------

/**
 * Waits on the condition once. Releases `arrived` while it holds the lock
 * before waiting (so that whoever takes the lock next knows this child is
 * waiting), then `woken` after it was notified.
 */
export async function waitOnce(
  cond: Condition,
  arrived: Semaphore,
  woken: Semaphore,
  sync: boolean,
): Promise<void> {
  if (sync) {
    using _ = cond.holdSync();
    arrived.release();
    cond.waitSync();
  } else {
    using _ = await cond.hold();
    arrived.release();
    await cond.wait();
  }
  woken.release();
}

/** Waits until `value` reaches `target`, then writes 1 to `seen[0]`. */
export async function waitForValue(
  cond: Condition,
  value: Value<"i32">,
  target: number,
  seen: Ints,
): Promise<void> {
  using _ = await cond.hold();
  const ok = await cond.waitFor(() => value.value >= target);
  seen[0] = ok ? 1 : 0;
}

/** Raises `value` by one `times` times, notifying all after each. */
export async function raiseValue(
  cond: Condition,
  value: Value<"i32">,
  times: number,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    using _ = await cond.hold();
    value.value += 1;
    cond.notifyAll();
  }
}

/** Notifies without holding the lock (a RangeError). */
export function notifyUnheld(cond: Condition): void {
  cond.notify();
}

// --- Barrier ---------------------------------------------------------------

let actionRuns: Value<"i32"> | undefined;

/** The barrier action of the tests: counts its runs in a shared Value. */
export function countAction(): void {
  actionRuns!.value += 1;
}

/**
 * Waits at the barrier and writes its index into `indexes[slot]`; writes -1
 * there when the barrier broke.
 */
export async function waitAtBarrier(
  barrier: Barrier,
  indexes: Ints,
  slot: number,
  runs?: Value<"i32">,
  timeout?: number,
): Promise<void> {
  actionRuns = runs;
  try {
    indexes[slot] = await barrier.wait(timeout);
  } catch (error) {
    if ((error as Error).name !== "BrokenBarrierError") throw error;
    indexes[slot] = -1;
  }
}

/**
 * Passes the barrier on to a grandchild on `backend`, and both wait at it
 * (the grandchild in `indexes[slot + 1]`).
 */
export async function waitAtBarrierWithGrandchild(
  barrier: Barrier,
  indexes: Ints,
  slot: number,
  runs: Value<"i32">,
  backend: Backend,
): Promise<void> {
  const p = new Process({
    target: waitAtBarrier,
    args: [barrier, indexes, slot + 1, runs],
    backend,
  });
  p.start();
  await waitAtBarrier(barrier, indexes, slot, runs);
  if (await p.join() !== 0) throw p.error;
}

/** Waits at the barrier with `waitSync`, writing its index or -1. */
export function waitAtBarrierSync(
  barrier: Barrier,
  indexes: Ints,
  slot: number,
): void {
  try {
    indexes[slot] = barrier.waitSync();
  } catch (error) {
    if ((error as Error).name !== "BrokenBarrierError") throw error;
    indexes[slot] = -1;
  }
}

// --- Value and Array -------------------------------------------------------

/** Writes `value` into the shared Value. */
export function writeValue(target: Value, value: number | bigint): void {
  target.value = value;
}

/** Writes each of `values` into the shared Array, index by index. */
export function writeArray(
  target: SharedArray,
  values: (number | bigint)[],
): void {
  values.forEach((v, i) => target[i] = v);
}

/** `times` locked increments of a shared Value (Python's counter). */
export function countUp(counter: Value<"i32">, times: number): void {
  const lock = counter.getLock();
  for (let i = 0; i < times; i++) {
    using _ = lock.holdSync();
    counter.value += 1;
  }
}
