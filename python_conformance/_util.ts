// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What the ports of CPython's Lib/test/_test_multiprocessing.py share: its
// constants in milliseconds, and the few helpers its test classes use.
//
// How a Python test becomes a test here:
// - `self.Process`, `self.Queue`, ... are the members of `getContext(backend)`
//   (CPython runs each class once per start method; here once per backend).
// - A child's `time.sleep(s)` is `await sleep(ms)`: it simulates work. The
//   tests themselves never sleep to let things settle; where CPython does,
//   the port waits on the event itself or the sleep is dropped (said there).
// - `assertTimingAlmostEqual` is a no-op in CPython (CHECK_TIMINGS is False),
//   so it is not ported.
// - Python's exception classes become the library's: ValueError for a bad
//   argument is `RangeError`; ValueError or OSError for an object that is
//   closed, or a pipe end used the wrong way, is `ProcessError`;
//   AttributeError for a bad option, and ValueError for an address of no
//   family the Listener serves, are `TypeError`; `queue.Full`/`Empty`,
//   `EOFError`, `TimeoutError` and `BrokenBarrierError` keep their names.
import type { Backend } from "../process.ts";
import { activeChildren, getStartMethod, setStartMethod } from "../process.ts";
import type { Value } from "../shared.ts";

export { BACKENDS } from "../_test_util.ts";
export type { Backend };

/** CPython's DELTA: 0.1 s. */
export const DELTA = 100;
/** CPython's TIMEOUT1, TIMEOUT2, TIMEOUT3 (CHECK_TIMINGS off): 0.1 s. */
export const TIMEOUT1 = 100;
export const TIMEOUT2 = 100;
export const TIMEOUT3 = 100;
/** test.support.SHORT_TIMEOUT: 30 s. */
export const SHORT_TIMEOUT = 30_000;
/** test.support.LONG_TIMEOUT: 5 min. */
export const LONG_TIMEOUT = 300_000;
/** CPython's CLOCK_RES: the tolerance of its timing checks, 0.1 s. */
export const CLOCK_RES = 100;

/** Python's `time.sleep` in a child, in milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * What every test here holds for its duration: when the test ends it ends
 * and joins every child this process still has, so that a failing test
 * leaves none behind (CPython's tearDown and `join_process` do that job).
 */
export function testScope(): AsyncDisposable {
  return {
    async [Symbol.asyncDispose]() {
      const left = activeChildren();
      for (const p of left) p.kill();
      await Promise.all(left.map((p) => p.join()));
    },
  };
}

/**
 * CPython's `_DummyList` of the barrier tests: a counter in shared memory
 * that `append` increments under its lock and `len` reads. Any process
 * that gets the `Value` can use it.
 */
export type DummyList = Value<"i">;

/** `list.append(True)` on a {@linkcode DummyList}. */
export async function append(list: DummyList): Promise<void> {
  using _ = await list.getLock().hold();
  list.value += 1;
}

/** `len(list)` of a {@linkcode DummyList}. */
export async function len(list: DummyList): Promise<number> {
  using _ = await list.getLock().hold();
  return list.value;
}

/**
 * Runs `fn` with `backend` as the default start method, as CPython's test
 * module sets the start method it runs under (`set_start_method`), then
 * restores the previous one.
 */
export async function withStartMethod<T>(
  backend: Backend,
  fn: () => Promise<T>,
): Promise<T> {
  const old = getStartMethod();
  setStartMethod(backend);
  try {
    return await fn();
  } finally {
    setStartMethod(old);
  }
}

/** Resolves with `promise`, or rejects when it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Still waiting after ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** CPython's `latin(s)`: the string's latin-1 bytes. */
export function latin(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
