// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The one place this library waits on shared memory: every `Atomics.wait`
// and `Atomics.waitAsync` is here, with what each needs around it (the one
// exception is the subprocess proxy's I/O Worker, whose source is a string
// that can import nothing). Every primitive waits the same way: until a
// condition on shared memory holds, sleeping on a 32-bit word between tries.
//
// A waiter reads the word, tries, and sleeps only while the word still has
// the value it read; whoever makes progress possible changes the word first
// (a sequence number bumped by `wake`) and notifies after. So a wake-up that
// falls between a failed try and the sleep is never lost: the sleep sees a
// changed word and returns at once. The word must change at every such
// step, never go back to a value it had: a waiter that read it just before
// would sleep through the step. (A notify that changes nothing only makes
// sleepers try again.) A waiter counts itself in `sleepers` after
// its first try failed and before it sleeps: a waker bumps the word before
// it reads the count, so either it sees the waiter counted, or the waiter's
// sleep sees the bumped word.
//
// Sleeps last at most a slice (SLICE ms unless the caller asks for another),
// after which the waiter tries again. That bounds how long a waiter can miss
// something no one notified it of: the death of a lock's owner, a waiter
// that timed out after being picked, the end of a pipe's peer.
//
// The sync flavour blocks the thread with `Atomics.wait` (allowed on Deno's
// main thread too). Deno's `Worker.terminate()` does not interrupt a thread
// that is blocked, or busy: a Worker child that its parent already ended
// would wait on, and then take what it waited for (a lock, an item, a
// message). Nor does the agent that acts for a subprocess child stop its
// waits when the child dies. So every wait checks the process table
// (`checkRunning`) before each try, and a wait of a process its parent
// ended throws instead of taking anything.
//
// Memory that is not a `SharedArrayBuffer` (a segment shared with other OS
// processes, see memory.ts) is waited on through the kernel's futex
// instead (ffi/kernel_futex.ts), with the same meaning: every wait and
// notify below picks its flavour by the buffer.
//
// The async flavour uses `Atomics.waitAsync`, whose pending promise does
// not keep Deno's event loop alive: a program whose only pending work is
// such a wait would end with "promise never resolved". While any async wait
// is pending, it holds the loop (`holdEventLoop`, the one keep-alive of the
// library, which `Process.join()` uses too). An async
// wait does not block the thread, so `terminate()` stops it as it should.
import { checkRunning } from "./registry.ts";
import { remaining } from "../_timeout.ts";
import { holdEventLoop } from "../_deno_compat.ts";
import * as kernel from "./ffi/kernel_futex.ts";

/** The longest sleep between two tries, in milliseconds, unless told otherwise. */
export const SLICE = 50;

/** No word counts the sleepers: {@linkcode wake} always notifies. */
export const NO_SLEEPERS = -1;

/** How a wait sleeps; every field is optional. */
export interface SleepOptions {
  /**
   * The longest sleep between two tries in milliseconds (default
   * {@linkcode SLICE}). A blocking wait never blocks longer than `SLICE` at
   * once, whatever this says: that is how soon an ended child stops.
   */
  slice?: number;
  /**
   * The async flavour spins and blocks briefly before it parks, adapting
   * as the {@linkcode Brief} says.
   */
  brief?: Brief;
}

/**
 * Tries `attempt` until it returns `true` or `deadline` (a
 * `performance.now()` time, or `Infinity`) passes, blocking the thread on
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
  sleepers: number = NO_SLEEPERS,
  options?: SleepOptions,
): boolean {
  checkRunning();
  let seen = Atomics.load(cells, index);
  if (attempt()) return true;
  // A peer that answers within microseconds is caught spinning: waking a
  // thread blocked in the kernel costs it tens.
  if (options?.brief?.spin(cells, index, seen)) {
    checkRunning();
    seen = Atomics.load(cells, index);
    if (attempt()) return true;
  }
  const slice = Math.min(options?.slice ?? SLICE, SLICE);
  if (sleepers >= 0) Atomics.add(cells, sleepers, 1);
  try {
    for (;;) {
      const ms = Math.min(remaining(deadline), slice);
      if (ms === 0) return false;
      block(cells, index, seen, ms);
      checkRunning();
      seen = Atomics.load(cells, index);
      if (attempt()) return true;
    }
  } finally {
    if (sleepers >= 0) Atomics.sub(cells, sleepers, 1);
  }
}

/**
 * What {@linkcode waitUntil} returns when its first try succeeds: a caller
 * on a hot path can skip its `await` (one turn of the microtask queue) then.
 */
export const SUCCEEDED: Promise<boolean> = Promise.resolve(true);

/**
 * The async twin of {@linkcode waitUntilSync}: the event loop keeps running
 * while it sleeps (except for a {@linkcode Brief} block, when one is given).
 * The first try runs at once, before this returns; when it succeeds, no
 * async function runs at all.
 *
 * @returns Whether `attempt` succeeded before the deadline; a rejection
 * with what `attempt` threw.
 */
export function waitUntil(
  cells: Int32Array,
  index: number,
  deadline: number,
  attempt: () => boolean,
  sleepers: number = NO_SLEEPERS,
  options?: SleepOptions,
): Promise<boolean> {
  let seen: number;
  try {
    checkRunning();
    seen = Atomics.load(cells, index);
    if (attempt()) return SUCCEEDED;
  } catch (error) {
    return Promise.reject(error);
  }
  return sleepThenTry(cells, index, seen, deadline, attempt, sleepers, options);
}

/** The rest of {@linkcode waitUntil}, after a first try that failed. */
async function sleepThenTry(
  cells: Int32Array,
  index: number,
  seen: number,
  deadline: number,
  attempt: () => boolean,
  sleepers: number,
  options: SleepOptions | undefined,
): Promise<boolean> {
  const slice = options?.slice ?? SLICE;
  const brief = options?.brief ??
    (cells.buffer instanceof SharedArrayBuffer ? undefined : segmentBrief);
  for (;;) {
    const ms = Math.min(remaining(deadline), slice);
    if (ms === 0) return false;
    // A spinning waiter does not count itself among the sleepers: a waker
    // that finds none skips its notify, which on segment memory is a system
    // call per put or release. The word read before the failed try tells a
    // change that falls between the spin and the count.
    if (!brief?.spin(cells, index, seen)) {
      if (sleepers >= 0) Atomics.add(cells, sleepers, 1);
      try {
        if (!brief?.block(cells, index, seen)) {
          await park(cells, index, seen, ms);
        }
      } finally {
        if (sleepers >= 0) Atomics.sub(cells, sleepers, 1);
      }
    }
    checkRunning();
    seen = Atomics.load(cells, index);
    if (attempt()) return true;
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
  sleepers: number = NO_SLEEPERS,
): void {
  Atomics.add(cells, index, 1);
  if (sleepers < 0 || Atomics.load(cells, sleepers) > 0) {
    notify(cells, index, count);
  }
}

/**
 * Wakes up to `count` sleepers on `cells[index]` without changing it, for a
 * caller that changed the word itself: `Atomics.notify`, or the kernel's
 * futex for segment memory, on which `Atomics.notify` wakes no one.
 *
 * @returns How many sleepers were woken.
 */
export function notify(
  cells: Int32Array,
  index: number,
  count = Infinity,
): number {
  return cells.buffer instanceof SharedArrayBuffer
    ? Atomics.notify(cells, index, count)
    : kernel.notify(cells, index, count);
}

/**
 * The method by which a waiter that knows its peer's pace gives a handle
 * its own {@linkcode Brief} (a pool's channels: see pool.ts). Internal:
 * the package does not export it.
 */
export const waitsWith: unique symbol = Symbol("multiprocessing.waitsWith");

/** How long a {@linkcode Brief} spins before it blocks. */
const SPIN_MS = 0.01;
/** How long a {@linkcode Brief} blocks the thread at most. */
const BRIEF_MS = 0.1;
/** After this many briefs in a row ran out, this many waits park at once. */
const BRIEF_FAILS = 4;
const BRIEF_SKIP = 200;
/** The shortest rest of a {@linkcode Brief}'s spin, in waits. */
const SPIN_REST_MIN = 8;

/**
 * What an async waiter does before it parks, for a peer that usually
 * answers within microseconds (a pipe's round trip): spin 10 µs (a peer on
 * another core answers sooner), then block the thread for at most 0.1 ms.
 * Parking costs an event-loop wake-up, tens of microseconds; 0.1 ms is short
 * enough not to hold up the event loop noticeably. Adaptive: after a few
 * briefs in a row ran out (a peer that is slow to answer, or a busy
 * machine), the next waits park at once for a while, so that a slow peer
 * does not cost the event loop a blocked 0.1 ms per wait. One per waiter
 * that has a peer (a pipe end), since it learns that peer's pace.
 */
export class Brief {
  /** Briefs that ran out in a row, and waits left that park at once. */
  #fails = 0;
  #skip = 0;
  /**
   * Spins that ran out in a row, waits left that do not spin, and how many
   * the next rest lasts: twice the last when the spin after a rest ran
   * out too (a peer that shares this core), back to the shortest once a
   * spin sees its change (a peer that was held up a while).
   */
  #spinFails = 0;
  #spinSkip = 0;
  #spinRest = SPIN_REST_MIN;
  readonly #spinMs: number;
  readonly #restSpins: boolean;

  /**
   * @param options `spinMs`: how long it spins (default 10 µs);
   * `restSpins`: whether spins that ran out a few times in a row stop
   * spinning for a while (default `false`), for a waiter whose peer may
   * have to share its core: the peer runs only once the spinner stops.
   */
  constructor(options: { spinMs?: number; restSpins?: boolean } = {}) {
    this.#spinMs = options.spinMs ?? SPIN_MS;
    this.#restSpins = options.restSpins ?? false;
  }

  /**
   * Spins while `cells[index]` is `seen`, unless this brief is resting.
   *
   * @returns Whether the word changed meanwhile.
   */
  spin(cells: Int32Array, index: number, seen: number): boolean {
    if (this.#skip > 0) return false;
    if (this.#spinSkip > 0) {
      this.#spinSkip--;
      return false;
    }
    if (spinWhile(cells, index, seen, this.#spinMs)) {
      this.#fails = this.#spinFails = 0;
      this.#spinRest = SPIN_REST_MIN;
      return true;
    }
    if (this.#restSpins && ++this.#spinFails >= BRIEF_FAILS) {
      this.#spinSkip = this.#spinRest;
      this.#spinRest = Math.min(this.#spinRest * 2, BRIEF_SKIP);
      this.#spinFails = BRIEF_FAILS - 1; // One more miss rests again.
    }
    return false;
  }

  /**
   * After a {@linkcode Brief.spin} that ran out: blocks the thread while
   * `cells[index]` is `seen`, briefly, unless this brief is resting.
   *
   * @returns Whether the word changed (or was notified) meanwhile.
   */
  block(cells: Int32Array, index: number, seen: number): boolean {
    if (this.#skip > 0) {
      this.#skip--;
      return false;
    }
    if (block(cells, index, seen, BRIEF_MS) !== "timed-out") {
      this.#fails = 0;
      return true;
    }
    if (++this.#fails >= BRIEF_FAILS) {
      this.#fails = 0;
      this.#skip = BRIEF_SKIP;
    }
    return false;
  }
}

/**
 * How long {@linkcode answerBrief} spins for a message it expects before it
 * blocks: longer than a simple answer takes to come (about 10 µs at rest),
 * and than the other side's wake-up when it was blocked (20-30 µs: the
 * notify, and the sleeper's way back), so that a side that spins finds its
 * message whether or not the other did.
 */
const ANSWER_SPIN_MS = 0.05;

/**
 * The {@linkcode Brief} of one side of a channel of requests and answers (a
 * pool's, a manager's in the thread that started it), which learns the
 * other side's pace: it spins {@linkcode ANSWER_SPIN_MS} before it blocks,
 * and rests its spins while they keep running out, since a peer that must
 * share this thread's core runs only once the spin stops.
 *
 * @returns A new brief, for one waiter.
 */
export function answerBrief(): Brief {
  return new Brief({ spinMs: ANSWER_SPIN_MS, restSpins: true });
}

/**
 * The {@linkcode Brief} of every async wait on segment memory that brings
 * none: parking there is a futex call on a thread of Deno's pool, whose
 * round trip costs tens of microseconds more than `Atomics.waitAsync`, so a
 * wait that the next put or release would end within 0.1 ms is better
 * spent blocked. It adapts to the process's waits as a whole.
 */
const segmentBrief = new Brief();

/** Spins while `cells[index]` is `value`, `ms` at most; true if it changed. */
function spinWhile(
  cells: Int32Array,
  index: number,
  value: number,
  ms: number,
): boolean {
  const end = performance.now() + ms;
  for (let i = 1; Atomics.load(cells, index) === value; i++) {
    if ((i & 31) === 0 && performance.now() >= end) return false;
  }
  return true;
}

/** Blocks the thread while `cells[index]` is `value`, `ms` at most. */
function block(
  cells: Int32Array,
  index: number,
  value: number,
  ms: number,
): "ok" | "not-equal" | "timed-out" {
  return cells.buffer instanceof SharedArrayBuffer
    ? Atomics.wait(cells, index, value, ms)
    : kernel.waitSync(cells, index, value, ms);
}

/** Sleeps while `cells[index]` is `value`, `ms` at most, without blocking. */
async function park(
  cells: Int32Array,
  index: number,
  value: number,
  ms: number,
): Promise<void> {
  const result = cells.buffer instanceof SharedArrayBuffer
    ? Atomics.waitAsync(cells, index, value, ms)
    : Atomics.load(cells, index) === value
    ? { async: true as const, value: kernel.waitAsync(cells, index, value, ms) }
    : { async: false as const };
  if (!result.async) return;
  using _ = holdEventLoop();
  await result.value;
}
