// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The one waiting mechanism of every synchronization primitive: wait until a
// condition on shared memory holds, sleeping on a 32-bit word between tries.
//
// A waiter reads the word, tries, and sleeps only while the word still has
// the value it read; whoever makes progress possible changes the word first
// (a sequence number bumped by `wake`, or a slot's own state) and notifies
// after. So a wake-up that falls between a failed try and the sleep is never
// lost: the sleep sees a changed word and returns at once.
//
// Sleeps last at most SLICE ms, after which the waiter tries again. That
// bounds how long a waiter can miss something no one notified it of: the
// death of a lock's owner, a waiter that timed out after being picked.
//
// The sync flavour blocks the thread with `Atomics.wait` (allowed on Deno's
// main thread too). The async flavour uses `Atomics.waitAsync`, whose pending
// promise does not keep Deno's event loop alive, so it also holds a timer of
// the same length for the duration of the sleep.
import { blockingWait, stopIfEnded } from "./registry.ts";
import { remaining } from "../_timeout.ts";

/** The longest sleep between two tries, in milliseconds. */
export const SLICE = 50;

/** Milliseconds to sleep next: a slice, or less when the deadline is near. */
function nap(deadline: number): number {
  return Math.min(remaining(deadline), SLICE);
}

/**
 * Tries `attempt` until it returns `true` or `deadline` passes, sleeping on
 * `cells[index]` in between. When `sleepers` is given, `cells[sleepers]`
 * counts the waiters so that {@linkcode wake} can skip the notify when there
 * are none.
 *
 * @returns Whether `attempt` succeeded before the deadline.
 */
export function waitUntilSync(
  cells: Int32Array,
  index: number,
  deadline: number,
  attempt: () => boolean,
  sleepers = -1,
): boolean {
  stopIfEnded();
  if (sleepers >= 0) Atomics.add(cells, sleepers, 1);
  try {
    for (;;) {
      const seen = Atomics.load(cells, index);
      if (attempt()) return true;
      const ms = nap(deadline);
      if (ms === 0) return false;
      blockingWait(cells, index, seen, ms);
    }
  } finally {
    if (sleepers >= 0) Atomics.sub(cells, sleepers, 1);
  }
}

/**
 * The async twin of {@linkcode waitUntilSync}: the event loop keeps running
 * while it sleeps.
 *
 * @returns Whether `attempt` succeeded before the deadline.
 */
export async function waitUntil(
  cells: Int32Array,
  index: number,
  deadline: number,
  attempt: () => boolean,
  sleepers = -1,
): Promise<boolean> {
  if (sleepers >= 0) Atomics.add(cells, sleepers, 1);
  try {
    for (;;) {
      const seen = Atomics.load(cells, index);
      if (attempt()) return true;
      const ms = nap(deadline);
      if (ms === 0) return false;
      await sleepAsync(cells, index, seen, ms);
    }
  } finally {
    if (sleepers >= 0) Atomics.sub(cells, sleepers, 1);
  }
}

/** Sleeps while `cells[index] === seen`, for at most `ms`, without blocking. */
async function sleepAsync(
  cells: Int32Array,
  index: number,
  seen: number,
  ms: number,
): Promise<void> {
  const result = Atomics.waitAsync(cells, index, seen, ms);
  if (!result.async) return;
  // The timer keeps the event loop alive, and ends the sleep should the
  // waitAsync timeout be late.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const keepAlive = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms + 5);
  });
  try {
    await Promise.race([result.value, keepAlive]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Bumps the sequence word `cells[index]` and wakes up to `count` of its
 * sleepers (all by default). With `sleepers`, the notify is skipped when
 * `cells[sleepers]` says no one sleeps.
 */
export function wake(
  cells: Int32Array,
  index: number,
  count = Infinity,
  sleepers = -1,
): void {
  Atomics.add(cells, index, 1);
  if (sleepers < 0 || Atomics.load(cells, sleepers) > 0) {
    Atomics.notify(cells, index, count);
  }
}
