// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for barrier_test.ts (CPython's _TestBarrier), and the
// task of its Bunch of processes.
import type { Barrier } from "../barrier.ts";
import { BrokenBarrierError } from "../errors.ts";
import type { Event } from "../event.ts";
import type { Lock } from "../lock.ts";
import type { Connection } from "../pipe.ts";
import type { Queue } from "../queue.ts";
import { append, type DummyList, len, sleep } from "./_util.ts";

/** _TestBarrier.N: the parties of the barrier. */
export const N = 5;
/** _TestBarrier.defaultTimeout: 30 s. */
export const DEFAULT_TIMEOUT = 30_000;

/** Python's AssertionError. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/**
 * Python's `assert` statement. (node:assert would do, but loading it costs
 * every child of these tests tens of milliseconds.)
 */
function check(condition: boolean): asserts condition {
  if (!condition) throw new AssertionError();
}

/** Python's RuntimeError. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
}

export async function multipass(
  barrier: Barrier,
  results: [DummyList, DummyList],
  n: number,
): Promise<void> {
  const m = barrier.parties;
  check(m === N);
  for (let i = 0; i < n; i++) {
    await append(results[0]);
    check(await len(results[1]) === i * m);
    await barrier.wait();
    await append(results[1]);
    check(await len(results[0]) === (i + 1) * m);
    await barrier.wait();
  }
  check(barrier.nWaiting === 0);
  check(!barrier.broken);
}

export async function testWaitReturnF(
  barrier: Barrier,
  queue: Queue<number>,
): Promise<void> {
  const res = await barrier.wait();
  await queue.put(res);
}

/** What `AppendTrue(results)` of test_action holds: set by each party. */
let actionResults: DummyList | undefined;

/** test_action's `AppendTrue(results)`: the barrier's action. */
export async function appendTrue(): Promise<void> {
  await append(actionResults!);
}

/** Gives {@linkcode appendTrue} its list, in the process that calls it. */
export function setActionResults(results: DummyList): void {
  actionResults = results;
}

export async function testActionF(
  barrier: Barrier,
  results: DummyList,
): Promise<void> {
  setActionResults(results);
  await barrier.wait();
  if (await len(results) !== 1) throw new RuntimeError();
}

export async function testAbortF(
  barrier: Barrier,
  results1: DummyList,
  results2: DummyList,
): Promise<void> {
  try {
    const i = await barrier.wait();
    if (i === Math.floor(N / 2)) throw new RuntimeError();
    await barrier.wait();
    await append(results1);
  } catch (error) {
    if (error instanceof BrokenBarrierError) await append(results2);
    else if (error instanceof RuntimeError) barrier.abort();
    else throw error;
  }
}

export async function testResetF(
  barrier: Barrier,
  results1: DummyList,
  results2: DummyList,
  results3: DummyList,
): Promise<void> {
  const i = await barrier.wait();
  if (i === Math.floor(N / 2)) {
    // Wait until the other threads are all in the barrier.
    while (barrier.nWaiting < N - 1) await sleep(1);
    barrier.reset();
  } else {
    try {
      await barrier.wait();
      await append(results1);
    } catch (error) {
      if (!(error instanceof BrokenBarrierError)) throw error;
      await append(results2);
    }
  }
  // Now, pass the barrier again
  await barrier.wait();
  await append(results3);
}

export async function testAbortAndResetF(
  barrier: Barrier,
  barrier2: Barrier,
  results1: DummyList,
  results2: DummyList,
  results3: DummyList,
): Promise<void> {
  try {
    const i = await barrier.wait();
    if (i === Math.floor(N / 2)) throw new RuntimeError();
    await barrier.wait();
    await append(results1);
  } catch (error) {
    if (error instanceof BrokenBarrierError) await append(results2);
    else if (error instanceof RuntimeError) barrier.abort();
    else throw error;
  }
  // Synchronize and reset the barrier.  Must synchronize first so that
  // everyone has left it when we reset, and after so that no one enters it
  // before the reset.
  if (await barrier2.wait() === Math.floor(N / 2)) barrier.reset();
  await barrier2.wait();
  await barrier.wait();
  await append(results3);
}

export async function testTimeoutF(
  barrier: Barrier,
  results: DummyList,
): Promise<void> {
  const i = await barrier.wait();
  if (i === Math.floor(N / 2)) {
    // One thread is late!
    await sleep(1000);
  }
  try {
    await barrier.wait(500);
  } catch (error) {
    if (!(error instanceof BrokenBarrierError)) throw error;
    await append(results);
  }
}

export async function testDefaultTimeoutF(
  barrier: Barrier,
  results: DummyList,
): Promise<void> {
  const i = await barrier.wait(DEFAULT_TIMEOUT);
  if (i === Math.floor(N / 2)) {
    // One thread is later than the default timeout
    await sleep(1000);
  }
  try {
    await barrier.wait();
  } catch (error) {
    if (!(error instanceof BrokenBarrierError)) throw error;
    await append(results);
  }
}

export async function testThousandF(
  barrier: Barrier,
  passes: number,
  conn: Connection<number>,
  lock: Lock,
): Promise<void> {
  for (let i = 0; i < passes; i++) {
    await barrier.wait();
    using _ = await lock.hold();
    conn.send(i);
  }
}

// deno-lint-ignore no-explicit-any
const FUNCTIONS: Record<string, (...args: any[]) => Promise<void>> = {
  multipass,
  testWaitReturnF,
  testActionF,
  testAbortF,
  testResetF,
  testAbortAndResetF,
  testTimeoutF,
  testDefaultTimeoutF,
};

/** `Bunch.task`: what each process of a Bunch runs. */
export async function bunchTask(
  f: string,
  args: unknown[],
  started: DummyList,
  finished: DummyList,
  canExit: Event,
): Promise<void> {
  await append(started);
  try {
    await FUNCTIONS[f](...args);
  } finally {
    await append(finished);
    await canExit.wait(30_000);
    check(canExit.isSet());
  }
}
