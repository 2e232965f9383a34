// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Targets for faults_test.ts: each is exported, as a child imports it by name.
import type { Event } from "../event.ts";
import type { Lock } from "../lock.ts";
import type { Queue } from "../queue.ts";
import type { SharedArray, Value } from "../shared.ts";

/** Sets `Deno.exitCode` and returns, as a Deno program may. */
export function setExitCode(code: number): void {
  Deno.exitCode = code;
}

/** The same, after an await. */
export async function setExitCodeLater(code: number): Promise<void> {
  await Promise.resolve();
  Deno.exitCode = code;
}

/** The cells of {@linkcode spinThenTry}. */
export const SPIN = {
  /** Set to 1 by the child once it holds the lock and spins. */
  holding: 0,
  /** Set to 1 by the parent: stop spinning and try every call. */
  go: 1,
  /** Set to 1 by the child once it tried every call. */
  tried: 2,
  /** From here on, one cell per call: 1 when it threw, 2 when it returned. */
  calls: 3,
} as const;

/** The calls {@linkcode spinThenTry} makes, in the order of their cells. */
export const SPIN_CALLS = [
  "lock.release",
  "queue.putNowait",
  "value.set",
  "array.set",
  "event.set",
  "lock.acquire",
] as const;

/**
 * Takes `lock`, then spins in pure JavaScript (never yielding to its event
 * loop) until the parent sets the `go` cell, then tries a call of each
 * primitive and records in `cells` whether it threw.
 */
export function spinThenTry(
  cells: Int32Array,
  lock: Lock,
  queue: Queue<number>,
  value: Value<"i32">,
  array: SharedArray<"i32">,
  event: Event,
): void {
  lock.acquireSync();
  Atomics.store(cells, SPIN.holding, 1);
  Atomics.notify(cells, SPIN.holding);
  while (Atomics.load(cells, SPIN.go) === 0) {
    // Busy in synchronous code: Worker.terminate() cannot stop this.
  }
  const calls: (() => unknown)[] = [
    () => lock.release(),
    () => queue.putNowait(1),
    () => value.value = 7,
    () => array.set(0, 7),
    () => event.set(),
    () => lock.acquireSync({ blocking: false }),
  ];
  calls.forEach((call, i) => {
    let outcome = 2;
    try {
      call();
    } catch {
      outcome = 1;
    }
    Atomics.store(cells, SPIN.calls + i, outcome);
  });
  Atomics.store(cells, SPIN.tried, 1);
  Atomics.notify(cells, SPIN.tried);
}

/** Signals `started`, then spins in pure JavaScript forever. */
export function spinForever(started: Int32Array): void {
  Atomics.store(started, 0, 1);
  Atomics.notify(started, 0);
  for (;;) {
    // Never returns, never yields.
  }
}
