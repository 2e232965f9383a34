// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The mutual exclusion under `Lock` and `RLock`: one word of shared memory
// says who holds the lock, and every process of the tree works on it.
//
// STATE is 0 when free, the holder's pid when held (with the CONTENDED bit
// once someone may be sleeping on it), or -pid while the lock is reserved
// for a starving process (see below).
//
// - Fast paths are one compare-and-swap each: 0 -> pid to take, pid -> 0 to
//   give back. A release that finds CONTENDED set takes the slow path, which
//   bumps SEQ and wakes a sleeper (see futex.ts).
// - Fairness: new arrivals may barge in, which is fast, but a waiter that
//   has waited longer than STARVE_MS registers its pid in STARVING and the
//   next release hands the lock over to it (STATE = -pid) instead of freeing
//   it. So no process starves while others keep taking the lock.
// - Owner death: a waiter that finds the holder (or a reservation's owner)
//   no longer alive takes the lock over, at the latest one sleep slice after
//   the death is recorded; the parent of a child that ended frees what the
//   child held at once (`ownerEnded`).
import { SLICE, waitUntil, waitUntilSync, wake } from "./futex.ts";
import { checkRunning, isAlive } from "./registry.ts";
import { allocate, type Memory } from "./memory.ts";
import { deadlineOf } from "../_timeout.ts";
import { ProcessError } from "../errors.ts";

/**
 * The lock word's index: 0 free, the holder's pid (with CONTENDED), or
 * -pid. The fast paths of `Lock` and `RLock` swap it themselves, as
 * {@linkcode Mutex.tryAcquire} and {@linkcode Mutex.releaseOwn} do: a call
 * fewer on every acquire and release, which a fresh child pays in full
 * while V8 has not optimized its loop yet.
 */
export const STATE = 0;
const SEQ = 1;
const SLEEPERS = 2;
const STARVING = 3;
/** The re-entry count of an `RLock`, written only by the holder. */
export const COUNT = 4;
/** Int32 words a mutex takes. */
export const WORDS = 8;

const CONTENDED = 1 << 30;
const OWNER = CONTENDED - 1;
/** Tries before the first sleep: most critical sections are that short. */
const SPIN = 500;
/** How long a waiter waits before it asks for the next hand-over. */
const STARVE_MS = Math.min(5, SLICE);

/** The acquire options of every lock-like primitive. */
export interface Blocking {
  blocking?: boolean;
  timeout?: number;
}

/**
 * The deadline of an acquire: `Infinity` to wait forever, `0` for a single
 * try. A non-blocking acquire ignores its timeout, as Python's
 * `SemLock.acquire(False, timeout)` does (and as `Queue.put`/`get` here do).
 *
 * @throws {RangeError} For a negative or NaN timeout of a blocking acquire.
 */
export function acquireDeadline(options: Blocking | undefined): number {
  if (options === undefined) return Infinity;
  const { blocking = true, timeout } = options;
  return blocking ? deadlineOf(timeout) : 0;
}

/** The shared state of one lock and the operations on it. */
export class Mutex {
  /** The lock's words; `buffer` is what crosses to other processes. */
  readonly cells: Int32Array;

  constructor(buffer?: Memory) {
    this.cells = new Int32Array(
      buffer ?? allocate(WORDS * Int32Array.BYTES_PER_ELEMENT),
    );
  }

  /** The pid holding the lock, or 0. */
  owner(): number {
    const state = Atomics.load(this.cells, STATE);
    return state > 0 ? state & OWNER : 0;
  }

  /**
   * Takes the lock for `me` if it is free: the fast path, one
   * compare-and-swap. `me` comes from `runningPid()`, which checked that
   * this process still runs.
   */
  tryAcquire(me: number): boolean {
    return Atomics.compareExchange(this.cells, STATE, 0, me) === 0;
  }

  /**
   * Gives the lock back if `me` holds it and no one may be sleeping on it:
   * the fast path of a release, one compare-and-swap (a release that this
   * refuses takes {@linkcode Mutex.release}), for a caller that called
   * `checkRunning()` earlier in the same operation. The swap succeeds only
   * on this process's own hold, never on one its parent took after ending
   * it: a process ended after the check gives back only what its parent
   * would have freed anyway.
   */
  releaseOwn(me: number): boolean {
    return Atomics.compareExchange(this.cells, STATE, me, 0) === me;
  }

  /** Takes the lock for `me`, blocking the thread until `deadline`. */
  acquireSync(me: number, deadline: number): boolean {
    if (this.#spin(me)) return true;
    if (deadline === Infinity && this.owner() === me) {
      throw new ProcessError(
        "Deadlock: this process already holds the lock (an async task of it, or an earlier acquire), so blocking until it is released would wait forever; release it first, or use the async acquire()",
      );
    }
    const attempt = this.#attempt(me);
    const taken = waitUntilSync(this.cells, SEQ, deadline, attempt, SLEEPERS);
    if (!taken) this.#depart(me);
    return taken;
  }

  /** Takes the lock for `me` by `deadline`, without blocking the thread. */
  async acquire(me: number, deadline: number): Promise<boolean> {
    if (this.#spin(me)) return true;
    const attempt = this.#attempt(me);
    const taken = await waitUntil(this.cells, SEQ, deadline, attempt, SLEEPERS);
    if (!taken) this.#depart(me);
    return taken;
  }

  /**
   * Gives the lock back, whoever holds it.
   *
   * @returns `false` when it was not held.
   */
  release(): boolean {
    const cells = this.cells;
    for (;;) {
      const state = Atomics.load(cells, STATE);
      // Checked between the read and the swap: a child ended after the
      // check cannot have seen a hold that its parent took after the end.
      checkRunning();
      if (state <= 0) return false;
      if ((state & CONTENDED) === 0) {
        if (Atomics.compareExchange(cells, STATE, state, 0) === state) {
          return true;
        }
        continue; // a waiter just set CONTENDED
      }
      // Someone may sleep: hand the lock to a starving process, or free it.
      const starving = Atomics.load(cells, STARVING);
      const next = starving !== 0 && isAlive(starving) ? -starving : 0;
      if (Atomics.compareExchange(cells, STATE, state, next) === state) {
        // A hand-over must reach the starving process's waiter: wake all.
        wake(cells, SEQ, next < 0 ? Infinity : 1, SLEEPERS);
        return true;
      }
    }
  }

  /** Frees the lock if `pid` (a process that ended) holds or was promised it. */
  ownerEnded(pid: number): void {
    const cells = this.cells;
    Atomics.compareExchange(cells, STARVING, pid, 0);
    const state = Atomics.load(cells, STATE);
    const held = state > 0 && (state & OWNER) === pid;
    if (held || state === -pid) {
      if (Atomics.compareExchange(cells, STATE, state, 0) === state) {
        wake(cells, SEQ, Infinity, SLEEPERS);
      }
    }
  }

  #spin(me: number): boolean {
    checkRunning();
    const cells = this.cells;
    for (let i = 0; i < SPIN; i++) {
      if (
        Atomics.load(cells, STATE) === 0 &&
        Atomics.compareExchange(cells, STATE, 0, me) === 0
      ) return true;
    }
    return false;
  }

  /** One try of a waiter; on failure it makes sure a release will wake it. */
  #attempt(me: number): () => boolean {
    const cells = this.cells;
    const since = performance.now();
    return () => {
      if (performance.now() - since >= STARVE_MS) this.#askForHandOver(me);
      for (;;) {
        const state = Atomics.load(cells, STATE);
        // A waiter takes the lock CONTENDED: others may still sleep.
        if (state === 0 || this.#abandoned(state, me)) {
          if (
            Atomics.compareExchange(cells, STATE, state, me | CONTENDED) ===
              state
          ) {
            Atomics.compareExchange(cells, STARVING, me, 0);
            return true;
          }
          continue;
        }
        if (state < 0 || (state & CONTENDED) !== 0) return false;
        if (
          Atomics.compareExchange(cells, STATE, state, state | CONTENDED) ===
            state
        ) return false;
      }
    };
  }

  /** Whether `me` may take a lock in `state` although it is not free. */
  #abandoned(state: number, me: number): boolean {
    if (state > 0) return !isAlive(state & OWNER);
    // Reserved: for this process, or for one that no longer wants it.
    const pid = -state;
    return pid === me || Atomics.load(this.cells, STARVING) !== pid ||
      !isAlive(pid);
  }

  #askForHandOver(me: number): void {
    const cells = this.cells;
    const starving = Atomics.load(cells, STARVING);
    if (starving === me) return;
    if (starving === 0 || !isAlive(starving)) {
      Atomics.compareExchange(cells, STARVING, starving, me);
    }
  }

  /** A waiter that gives up withdraws its request for a hand-over. */
  #depart(me: number): void {
    const cells = this.cells;
    if (Atomics.compareExchange(cells, STARVING, me, 0) !== me) return;
    if (Atomics.compareExchange(cells, STATE, -me, 0) === -me) {
      wake(cells, SEQ, Infinity, SLEEPERS);
    }
  }
}

/**
 * What a lock-like primitive offers to a `Condition` built on it. Internal:
 * the symbols are not exported by the package.
 */
export const lockInternals: unique symbol = Symbol("multiprocessing.lock");

/** The operations a `Condition` needs from its lock. */
export interface LockInternals {
  /** Whether this process holds the lock. */
  isOwned(): boolean;
  /** Releases completely; returns what `restore` needs. */
  releaseAll(): number;
  /** Takes the lock back as `releaseAll` left it. */
  restore(saved: number): Promise<void>;
  /** The blocking twin of `restore`. */
  restoreSync(saved: number): void;
}

/** A lock that a `Condition` can be built on. */
export interface ConditionLock {
  /** See {@linkcode LockInternals}. */
  [lockInternals](): LockInternals;
  /** Acquires the lock. */
  acquire(options?: Blocking): Promise<boolean>;
  /** Acquires the lock, blocking the thread. */
  acquireSync(options?: Blocking): boolean;
  /** Releases the lock. */
  release(): void;
  /** Acquires the lock for a scope. */
  hold(options?: { timeout?: number }): Promise<Disposable>;
  /** Acquires the lock for a scope, blocking the thread. */
  holdSync(options?: { timeout?: number }): Disposable;
}

/**
 * A scoped hold: releases once, on the first dispose. A class rather than
 * an object literal, which V8 builds much faster in a hot loop.
 */
export class Hold implements Disposable {
  #release: (() => void) | undefined;

  constructor(release: () => void) {
    this.#release = release;
  }

  [Symbol.dispose](): void {
    const release = this.#release;
    if (release === undefined) return;
    this.#release = undefined;
    release();
  }
}
