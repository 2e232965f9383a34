// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Task functions for the pool tests (CPython's _TestPool,
// _TestPoolWorkerErrors, _TestPoolWorkerLifetime): a pool worker imports
// each by name, so each is exported.
import type { Event } from "../event.ts";
import { sleep } from "./_util.ts";

/** Python's ValueError. */
export class ValueError extends Error {
  override name = "ValueError";
}

/** Python's RuntimeError. */
export class RuntimeError extends Error {
  override name = "RuntimeError";
}

/** Python's KeyError. */
export class KeyError extends Error {
  override name = "KeyError";
}

export class SayWhenError extends ValueError {
  override name = "SayWhenError";
}

/** `sqr(x, wait=0.0, event=None)`: `wait` in ms; sync when it is 0. */
export function sqr(
  x: number,
  wait = 0,
  event?: Event,
): number | Promise<number> {
  if (event !== undefined) return event.wait(wait).then(() => x * x);
  if (wait > 0) return sleep(wait).then(() => x * x);
  return x * x;
}

export function mul(x: number, y: number): number {
  return x * y;
}

export async function raiseLargeValuerror(wait: number): Promise<never> {
  await sleep(wait);
  throw new ValueError("x".repeat(1024 ** 2));
}

export function* exceptionThrowingGenerator(
  total: number,
  when: number,
): Generator<number> {
  if (when === -1) throw new SayWhenError("Somebody said when");
  for (let i = 0; i < total; i++) {
    if (i === when) throw new SayWhenError("Somebody said when");
    yield i;
  }
}

/** Python's `int(s)`, as a task: a ValueError for what is not a number. */
export function int(s: string): number {
  if (!/^\s*[-+]?\d+\s*$/.test(s)) {
    throw new ValueError(`invalid literal for int() with base 10: '${s}'`);
  }
  return Number.parseInt(s, 10);
}

/** `time.sleep`, as a task (ms). */
export function timeSleep(ms: number): Promise<void> {
  return sleep(ms);
}

export function testTraceback(): never {
  throw new RuntimeError("123"); // some comment
}

export function testWrappedException(): never {
  throw new RuntimeError("foo");
}

export function raising(): never {
  throw new KeyError("key");
}

export function unpickleableResult(): () => number {
  return () => 42;
}

/** MiscTestCase.test_large_pool's `f`. */
export function f(x: number): number {
  return x * x;
}
