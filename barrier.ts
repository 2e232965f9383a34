// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * A barrier shared by processes: Python's `multiprocessing.Barrier`.
 *
 * `parties` processes call `wait()`; each one waits until all of them have,
 * then they all go on. Each gets a distinct index in `0..parties-1`.
 *
 * ```ts
 * import { Barrier } from "@mp/multiprocessing/barrier";
 *
 * const barrier = new Barrier(2);
 * // In real use each party is a process; two async calls show the idea.
 * const indexes = await Promise.all([barrier.wait(), barrier.wait()]);
 * console.log(indexes.sort()); // [0, 1]
 * ```
 *
 * **A party that ends while it waits breaks the barrier**: the other
 * waiting parties get a `BrokenBarrierError` within about 100 ms, instead of
 * waiting for a party that will never go on (or going on without it).
 * `reset()` makes the barrier usable again.
 *
 * @module
 */
import { checkRunning, identity, isAlive } from "./_shm/registry.ts";
import {
  allocate,
  inSegment,
  type MemoryForm,
  memoryForm,
  memoryOf,
  NOT_SHAREABLE,
  noteSharedExport,
  sharedExportOf,
} from "./_shm/memory.ts";
import {
  callerModule,
  importTarget,
  internalModule,
  resolveTarget,
  type TargetRole,
  type TargetSpec,
} from "./_target.ts";
import { checkTimeout, deadlineOf, remaining } from "./_timeout.ts";
import {
  crossesProcesses,
  decode,
  decodeSync,
  encode,
  registerKind,
  toWire,
  type WireContext,
  type WireForm,
} from "./_wire.ts";
import { lockInternals } from "./_shm/mutex.ts";
import { Condition } from "./condition.ts";
import { BrokenBarrierError } from "./errors.ts";
import { Lock } from "./lock.ts";

internalModule(import.meta.url);

const STATE = 0;
const COUNT = 1;
const PARTIES = 2;
/** One word per party inside `wait()`: its pid, or 0. */
const PIDS = 4;

const FILLING = 0;
const DRAINING = 1;
const RESETTING = -1;
const BROKEN = -2;

/** The most parties a barrier has (a word each in its shared memory). */
const MAX_PARTIES = 1 << 20;

/** How often waiting parties look for parties that ended. */
const REAP_MS = 100;

/** A function its module exports, or that module and the export's name. */
export type BarrierAction = (() => unknown) | {
  /** The module's URL, for example `import.meta.url`. */
  module: string | URL;
  /** The name of the exported function. */
  export: string;
};

/** Options of {@linkcode Barrier}. */
export interface BarrierOptions {
  /**
   * Called once per round, by the last party to arrive, before any party
   * goes on; if it throws, the barrier breaks. When the barrier is passed
   * to children, it must be a function that its module exports (a child
   * imports it, as it does a `Process` target), or `{ module, export }`.
   * A child starts loading it when it receives the barrier, so a child that
   * arrives last should use `wait()`: `waitSync()` cannot wait for the
   * import. On either backend the action runs in the process of the last
   * party, with that process's state, as in Python.
   */
  action?: BarrierAction;
  /** The default timeout of `wait()`, in milliseconds. */
  timeout?: number;
}

/**
 * What a process that shares the barrier's memory revives it from: a
 * Worker child, or a subprocess child that maps the segment it lies in.
 */
interface BarrierState {
  buffer: MemoryForm;
  cond: unknown;
  timeout: number | undefined;
  action: TargetSpec | undefined;
}

/**
 * What a process of its own that cannot map the barrier's memory (a
 * subprocess child without FFI, or a barrier in a `SharedArrayBuffer`)
 * revives a barrier from:
 * the encoded proxy of a {@linkcode BarrierHome}, through which the party
 * waits where the barrier's memory is, and the action, which it runs
 * itself when it arrives last.
 */
interface RemoteBarrierState {
  home: unknown;
  timeout: number | undefined;
  action: TargetSpec | undefined;
}

/** How a party arrived at a barrier that lives in another process. */
interface Arrival {
  index: number;
  /** Set for the last party of a barrier with an action: runs it, then calls `tripped(trip)`. */
  trip?: number;
}

/** What a remote party uses of its barrier's home (a proxy of a {@linkcode BarrierHome}). */
interface HomeLike {
  readonly parties: number;
  readonly nWaiting: number;
  readonly broken: boolean;
  arrive(timeout: number | undefined, hasAction: boolean): Promise<Arrival>;
  arriveSync(timeout: number | undefined, hasAction: boolean): Arrival;
  tripped(trip: number, ok: boolean): void;
  reset(): void;
  abort(): void;
}

/**
 * How a party got through the barrier's memory: its index, and for the
 * last party of a round with an action, the lock it keeps while it runs
 * the action (the round ends with `#finish`).
 */
interface Passage {
  index: number;
  held?: Disposable;
}

/**
 * What the one path of `wait()` (`#arrival`) asks its driver for: the
 * barrier's lock, or a wait on its condition until `done()` or `deadline`.
 * The async driver awaits each, the sync one blocks.
 */
type Step = { hold: true } | { done: () => boolean; deadline: number };

const HOLD: Step = { hold: true };

/** The steps of `wait()` a {@linkcode BarrierHome} takes for a remote party. */
let homeSteps: {
  arrive(b: Barrier, timeout: number | undefined, keep: boolean): Promise<
    Passage
  >;
  arriveSync(b: Barrier, timeout: number | undefined, keep: boolean): Passage;
  finish(b: Barrier, held: Disposable, ok: boolean): void;
  localState(b: Barrier, ctx: WireContext): BarrierState;
};

let reviving: BarrierState | RemoteBarrierState | undefined;

const ACTION: TargetRole = {
  noun: "the barrier's action",
  importer: "a child",
  option: "action",
};

function broken(): BrokenBarrierError {
  return new BrokenBarrierError(
    "The barrier is broken (aborted, reset, timed out, or a party ended while waiting): call reset() to use it again",
  );
}

/**
 * A barrier for a fixed number of parties (Python's
 * `multiprocessing.Barrier`).
 *
 * @example Abort and reset
 * ```ts
 * import { Barrier } from "@mp/multiprocessing/barrier";
 * import { BrokenBarrierError } from "@mp/multiprocessing/errors";
 * import assert from "node:assert/strict";
 *
 * const barrier = new Barrier(3);
 * const waiting = barrier.wait();
 * barrier.abort();
 * await assert.rejects(waiting, BrokenBarrierError);
 * assert.equal(barrier.broken, true);
 * barrier.reset();
 * assert.equal(barrier.broken, false);
 * await assert.rejects(barrier.wait(10), BrokenBarrierError); // timed out
 * ```
 */
export class Barrier {
  // Unset in a barrier revived in another OS process, which has `#home`.
  #cells!: Int32Array;
  #cond!: Condition;
  #home: { proxy?: HomeLike; ready: Promise<HomeLike> } | undefined;
  #timeout: number | undefined;
  #action: (() => unknown) | undefined;
  #actionSpec: TargetSpec | undefined;
  #actionModule: string | undefined;
  #actionLoad: Promise<void> | undefined;

  /**
   * Makes a barrier.
   *
   * @param parties How many parties must wait before all go on.
   * @param options `action` (run by the last party to arrive) and `timeout`
   * (the default for `wait()`).
   * @throws {RangeError} When `parties` is not a positive integer, or for a
   * negative or NaN timeout.
   * @throws {TypeError} When `action` is neither a function nor
   * `{ module, export }`.
   *
   * @example Two parties, with a default timeout
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import assert from "node:assert/strict";
   *
   * const barrier = new Barrier(2, { timeout: 5000 });
   * assert.deepEqual(
   *   (await Promise.all([barrier.wait(), barrier.wait()])).sort(),
   *   [0, 1],
   * );
   * ```
   */
  constructor(parties: number, options?: BarrierOptions) {
    const revived = reviving;
    reviving = undefined;
    if (revived) {
      this.#timeout = revived.timeout;
      this.#actionSpec = revived.action;
      if (revived.action) this.#loadAction(revived.action);
      if ("home" in revived) {
        this.#connect(revived.home);
        return;
      }
      this.#cells = new Int32Array(memoryOf(revived.buffer));
      this.#cond = decodeSync(revived.cond) as Condition;
      return;
    }
    if (!Number.isInteger(parties) || parties < 1 || parties > MAX_PARTIES) {
      throw new RangeError(
        `A Barrier needs a whole number of parties from 1 to ${MAX_PARTIES}, got ${
          String(parties)
        }`,
      );
    }
    checkTimeout(options?.timeout);
    this.#timeout = options?.timeout;
    this.#cells = new Int32Array(allocate(4 * (PIDS + parties)));
    this.#cells[PARTIES] = parties;
    // A Lock, not an RLock: two async parties of one process must not share
    // a hold (an RLock's owner is the whole process).
    this.#cond = new Condition(new Lock());
    const action = options?.action;
    if (typeof action === "function") {
      this.#action = action;
      this.#actionModule = callerModule();
    } else if (action !== undefined) {
      this.#actionSpec = resolveTarget(action, ACTION, undefined);
      this.#loadAction(this.#actionSpec);
    }
  }

  /**
   * Revives the proxy of the barrier's home; when the proxy's module is not
   * loaded in this thread yet, it is imported (`wait()` waits for it).
   */
  #connect(record: unknown): void {
    let ready: Promise<HomeLike>;
    try {
      ready = Promise.resolve(decodeSync(record) as HomeLike);
    } catch {
      ready = decode(record) as Promise<HomeLike>;
    }
    const home: { proxy?: HomeLike; ready: Promise<HomeLike> } = { ready };
    ready.then((proxy) => home.proxy = proxy, () => {});
    this.#home = home;
  }

  /** The home's proxy, for a synchronous call. */
  #remote(): HomeLike {
    const proxy = this.#home!.proxy;
    if (!proxy) {
      throw new TypeError(
        "The barrier is still connecting to the process that made it: use wait() rather than waitSync() for this first call",
      );
    }
    return proxy;
  }

  #loadAction(spec: TargetSpec): void {
    this.#actionLoad = importTarget(spec).then(
      (fn) => {
        this.#action = fn as () => unknown;
      },
      (error) => {
        this.#action = () => {
          throw error;
        };
      },
    );
  }

  /**
   * The number of parties it takes to pass the barrier.
   *
   * @example Three parties
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Barrier(3).parties, 3);
   * ```
   */
  get parties(): number {
    if (this.#home) return this.#remote().parties;
    return this.#cells[PARTIES];
  }

  /**
   * The number of parties waiting now.
   *
   * @example One party waits for the second
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import assert from "node:assert/strict";
   *
   * const barrier = new Barrier(2);
   * const first = barrier.wait();
   * while (barrier.nWaiting === 0) await new Promise((r) => setTimeout(r, 1));
   * assert.equal(barrier.nWaiting, 1);
   * await Promise.all([first, barrier.wait()]);
   * assert.equal(barrier.nWaiting, 0);
   * ```
   */
  get nWaiting(): number {
    if (this.#home) return this.#remote().nWaiting;
    return Atomics.load(this.#cells, STATE) === FILLING
      ? Atomics.load(this.#cells, COUNT)
      : 0;
  }

  /**
   * Whether the barrier is broken.
   *
   * @example Broken by abort, whole again after reset
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import assert from "node:assert/strict";
   *
   * const barrier = new Barrier(2);
   * assert.equal(barrier.broken, false);
   * barrier.abort();
   * assert.equal(barrier.broken, true);
   * barrier.reset();
   * assert.equal(barrier.broken, false);
   * ```
   */
  get broken(): boolean {
    if (this.#home) return this.#remote().broken;
    return Atomics.load(this.#cells, STATE) === BROKEN;
  }

  /**
   * Waits, without blocking the event loop, until all parties have called
   * `wait()`.
   *
   * @param timeout Milliseconds to wait at most (default: the barrier's);
   * when it passes, the barrier breaks.
   * @returns This party's index, from `0` to `parties - 1`; the last to
   * arrive gets `parties - 1`.
   * @throws {BrokenBarrierError} When the barrier is or becomes broken, is
   * reset while waiting, or the timeout passes.
   * @throws {RangeError} For a negative or NaN timeout.
   *
   * @example Each party gets its own index
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import assert from "node:assert/strict";
   *
   * const barrier = new Barrier(3);
   * // In real use each party is a process; async calls show the idea.
   * const indexes = await Promise.all([
   *   barrier.wait(),
   *   barrier.wait(),
   *   barrier.wait(5000),
   * ]);
   * assert.deepEqual(indexes.sort(), [0, 1, 2]);
   * ```
   */
  async wait(timeout?: number): Promise<number> {
    const { index, end } = await this.#pass(timeout);
    if (end) {
      let ok = false;
      try {
        if (!this.#action && this.#actionLoad) await this.#actionLoad;
        await this.#action?.();
        ok = true;
      } finally {
        end(ok);
      }
    }
    return index;
  }

  /**
   * The blocking twin of {@linkcode Barrier.wait}.
   *
   * @param timeout Milliseconds to wait at most (default: the barrier's).
   * @returns This party's index.
   * @throws {BrokenBarrierError} When the barrier is or becomes broken, is
   * reset while waiting, or the timeout passes.
   * @throws {RangeError} For a negative or NaN timeout.
   * @throws {TypeError} When this process is the last to arrive and the
   * barrier's action has not been loaded yet (use `wait()`).
   *
   * @example A barrier of one party never waits
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import assert from "node:assert/strict";
   *
   * const barrier = new Barrier(1);
   * assert.equal(barrier.waitSync(), 0);
   * assert.equal(barrier.waitSync(10), 0);
   * ```
   */
  waitSync(timeout?: number): number {
    const { index, end } = this.#passSync(timeout);
    if (end) {
      let ok = false;
      try {
        if (!this.#action) {
          throw new TypeError(
            "The barrier's action is still loading in this process: use wait() rather than waitSync()",
          );
        }
        if (this.#action() instanceof Promise) {
          throw new TypeError(
            "The barrier's action returned a promise: use wait() to run an async action",
          );
        }
        ok = true;
      } finally {
        end(ok);
      }
    }
    return index;
  }

  /**
   * Puts the barrier back to its empty state; parties waiting on it get a
   * `BrokenBarrierError`.
   *
   * @example Waiting parties are told, and the barrier works again
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import { BrokenBarrierError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const barrier = new Barrier(2);
   * const waiting = barrier.wait();
   * while (barrier.nWaiting === 0) await new Promise((r) => setTimeout(r, 1));
   * barrier.reset();
   * await assert.rejects(waiting, BrokenBarrierError);
   * assert.equal(barrier.broken, false);
   * ```
   */
  reset(): void {
    if (this.#home) return this.#remote().reset();
    using _ = this.#holdHere();
    this.#reap();
    const cells = this.#cells;
    if (Atomics.load(cells, COUNT) > 0) {
      const state = this.#state();
      if (state === FILLING || state === BROKEN) this.#setState(RESETTING);
    } else {
      this.#setState(FILLING);
    }
    this.#cond.notifyAll();
  }

  /**
   * Breaks the barrier: parties waiting on it, and those that call `wait()`
   * later, get a `BrokenBarrierError` until `reset()`.
   *
   * @example Later waits fail at once
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/barrier";
   * import { BrokenBarrierError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const barrier = new Barrier(2);
   * barrier.abort();
   * assert.throws(() => barrier.waitSync(), BrokenBarrierError);
   * ```
   */
  abort(): void {
    if (this.#home) return this.#remote().abort();
    using _ = this.#holdHere();
    this.#break();
  }

  static {
    homeSteps = {
      arrive: (b, timeout, keep) => b.#drive(b.#arrival(timeout, keep)),
      arriveSync: (b, timeout, keep) => b.#driveSync(b.#arrival(timeout, keep)),
      finish: (b, held, ok) => b.#finish(held, ok),
      localState: (b, ctx) => b.#localState(ctx),
    };
  }

  /** Whether the last party of a round runs an action (its own process's). */
  #hasAction(): boolean {
    return this.#action !== undefined || this.#actionSpec !== undefined;
  }

  /**
   * Every step of `wait()` but the action, where the barrier's memory is
   * or through its home: this party's index, and for the last party of a
   * round with an action, `end`, to call once the action ran (`ok`) or
   * threw.
   */
  async #pass(
    timeout: number | undefined,
  ): Promise<{ index: number; end?: (ok: boolean) => void }> {
    if (this.#home) {
      checkTimeout(timeout);
      const home = await this.#home.ready;
      const { index, trip } = await home.arrive(timeout, this.#hasAction());
      return trip === undefined
        ? { index }
        : { index, end: (ok) => home.tripped(trip, ok) };
    }
    const { index, held } = await this.#drive(
      this.#arrival(timeout, this.#hasAction()),
    );
    return held ? { index, end: (ok) => this.#finish(held, ok) } : { index };
  }

  /** The blocking twin of {@linkcode Barrier.#pass}. */
  #passSync(
    timeout: number | undefined,
  ): { index: number; end?: (ok: boolean) => void } {
    if (this.#home) {
      checkTimeout(timeout);
      const home = this.#remote();
      const { index, trip } = home.arriveSync(timeout, this.#hasAction());
      return trip === undefined
        ? { index }
        : { index, end: (ok) => home.tripped(trip, ok) };
    }
    const { index, held } = this.#driveSync(
      this.#arrival(timeout, this.#hasAction()),
    );
    return held ? { index, end: (ok) => this.#finish(held, ok) } : { index };
  }

  /**
   * The one path of a party through the barrier's memory, for a party here
   * and for one that waits through the home alike: it yields each wait to
   * its driver (`#drive` awaits, `#driveSync` blocks). With `keep`, the
   * last party keeps the lock and its place, runs the action, and ends the
   * round with `#finish`; without, it lets every party go at once.
   */
  *#arrival(
    timeout: number | undefined,
    keep: boolean,
  ): Generator<Step, Passage, unknown> {
    const deadline = deadlineOf(timeout ?? this.#timeout);
    const held = (yield HOLD) as Disposable;
    let kept = false;
    try {
      yield { done: () => !this.#isSettling(), deadline: Infinity };
      const index = this.#arrive();
      try {
        if (index + 1 < this.parties) {
          const passed = (yield {
            done: () => this.#state() !== FILLING,
            deadline,
          }) as boolean;
          this.#checkPassed(passed);
        } else if (keep) {
          kept = true;
          return { index, held };
        } else {
          this.#drain();
        }
        return { index };
      } finally {
        if (!kept) this.#depart();
      }
    } finally {
      if (!kept) held[Symbol.dispose]();
    }
  }

  /** Runs `steps`, awaiting each wait. */
  async #drive(steps: Generator<Step, Passage, unknown>): Promise<Passage> {
    let next = steps.next();
    while (!next.done) {
      const step = next.value;
      let answer: unknown;
      try {
        answer = "hold" in step
          ? await this.#cond.hold()
          : await this.#until(step.done, step.deadline);
      } catch (error) {
        next = steps.throw(error);
        continue;
      }
      next = steps.next(answer);
    }
    return next.value;
  }

  /** Runs `steps`, blocking the thread for each wait. */
  #driveSync(steps: Generator<Step, Passage, unknown>): Passage {
    let next = steps.next();
    while (!next.done) {
      const step = next.value;
      let answer: unknown;
      try {
        answer = "hold" in step
          ? this.#cond.holdSync()
          : this.#untilSync(step.done, step.deadline);
      } catch (error) {
        next = steps.throw(error);
        continue;
      }
      next = steps.next(answer);
    }
    return next.value;
  }

  /** The end of a last party's round: its action ran (`ok`) or threw. */
  #finish(held: Disposable, ok: boolean): void {
    try {
      if (ok) this.#drain();
      else this.#break();
    } finally {
      this.#depart();
      held[Symbol.dispose]();
    }
  }

  /**
   * Holds the lock for a synchronous change. When this process holds it
   * already, an async `wait()` of this process is paused at an `await`,
   * where the state is consistent: change it right away rather than block
   * the thread that party needs to go on.
   */
  #holdHere(): Disposable {
    if (this.#cond[lockInternals]().isOwned()) return { [Symbol.dispose]() {} };
    return this.#cond.holdSync();
  }

  #state(): number {
    return Atomics.load(this.#cells, STATE);
  }

  #setState(state: number): void {
    Atomics.store(this.#cells, STATE, state);
  }

  /** Draining or resetting: new arrivals wait until that is over. */
  #isSettling(): boolean {
    const state = this.#state();
    if (state === BROKEN) throw broken();
    return state === DRAINING || state === RESETTING;
  }

  /** Counts this party in; returns its index. */
  #arrive(): number {
    const cells = this.#cells;
    const index = Atomics.add(cells, COUNT, 1);
    const parties = this.parties;
    for (let i = 0; i < parties; i++) {
      if (Atomics.compareExchange(cells, PIDS + i, 0, identity().pid) === 0) {
        break;
      }
    }
    return index;
  }

  /**
   * Counts this party out; the last one out ends draining or resetting.
   * Whoever clears a party's pid slot (the party itself, or a reaper that
   * found it ended) counts it out, and only that one: a party stopped after
   * a reaper counted it out must not count itself out again.
   */
  #depart(): void {
    try {
      checkRunning();
    } catch {
      // Its parent ended this party mid-wait (a killed Worker thread can
      // still unwind here): it leaves its slot to a reaper, which breaks
      // the barrier, as for a party that died at once.
      return;
    }
    const cells = this.#cells;
    const me = identity().pid;
    for (let i = 0; i < this.parties; i++) {
      if (Atomics.compareExchange(cells, PIDS + i, me, 0) === me) {
        this.#leave();
        return;
      }
    }
  }

  #leave(): void {
    if (Atomics.sub(this.#cells, COUNT, 1) === 1) {
      const state = this.#state();
      if (state === DRAINING || state === RESETTING) {
        this.#setState(FILLING);
        this.#cond.notifyAll();
      }
    }
  }

  /** Counts out the parties that ended inside `wait()`; breaks the barrier. */
  #reap(): void {
    const cells = this.#cells;
    for (let i = 0; i < this.parties; i++) {
      const pid = Atomics.load(cells, PIDS + i);
      if (pid === 0 || isAlive(pid)) continue;
      if (Atomics.compareExchange(cells, PIDS + i, pid, 0) !== pid) continue;
      if (this.#state() === FILLING) this.#break();
      this.#leave();
    }
  }

  #drain(): void {
    this.#setState(DRAINING);
    this.#cond.notifyAll();
  }

  #checkPassed(passed: boolean): void {
    if (!passed) {
      this.#break();
      throw broken();
    }
    if (this.#state() < 0) throw broken();
  }

  #break(): void {
    this.#setState(BROKEN);
    this.#cond.notifyAll();
  }

  /** Waits on the condition until `done()`, looking for ended parties. */
  async #until(done: () => boolean, deadline: number): Promise<boolean> {
    for (;;) {
      this.#reap();
      if (done()) return true;
      const left = remaining(deadline);
      if (left === 0) return false;
      await this.#cond.wait(Math.min(left, REAP_MS));
    }
  }

  #untilSync(done: () => boolean, deadline: number): boolean {
    for (;;) {
      this.#reap();
      if (done()) return true;
      const left = remaining(deadline);
      if (left === 0) return false;
      this.#cond.waitSync(Math.min(left, REAP_MS));
    }
  }

  /**
   * A barrier makes its own wire form for every receiver, a process of its
   * own included (see {@linkcode Barrier[toWire]}).
   *
   * @ignore
   */
  get [crossesProcesses](): boolean {
    return true;
  }

  /**
   * The state a child revives this barrier from. A subprocess child gets
   * the barrier's memory when it can map it (in shared memory, see
   * `_shm/memory.ts`), as a Worker child does; one that cannot gets a proxy
   * of a {@linkcode BarrierHome} to wait through. Either way the child
   * loads the action and runs it itself when it arrives last, so that the
   * action runs where the last party is, as it does on Workers.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    // A barrier revived from a home passes the home on, to any receiver.
    if (this.#home) return this.#form(this.#remoteState(this.#remote(), ctx));
    if (!ctx.exporter) return this.#form(this.#localState(ctx));
    return this.#form(
      this.#sharedState(ctx) ??
        this.#remoteState(new BarrierHome(this) as unknown as HomeLike, ctx),
    );
  }

  #form(state: BarrierState | RemoteBarrierState): WireForm {
    return { kind: "Barrier", module: import.meta.url, state };
  }

  #remoteState(home: HomeLike, ctx: WireContext): RemoteBarrierState {
    return {
      home: encode(home, ctx),
      timeout: this.#timeout,
      action: this.#actionToSend(),
    };
  }

  /**
   * The barrier's memory for another OS process, when it lies in a segment
   * and its condition crossed in shared memory too (the export may proxy
   * it: a child without FFI); recorded like the condition's, so that such
   * a child gets the home instead.
   */
  #sharedState(ctx: WireContext): BarrierState | undefined {
    if (!inSegment(this.#cells.buffer)) return undefined;
    let buffer: MemoryForm;
    try {
      buffer = memoryForm(this.#cells.buffer, true);
    } catch (error) {
      if (error === NOT_SHAREABLE) return undefined;
      throw error;
    }
    const cond = encode(this.#cond, ctx);
    const shared = sharedExportOf((cond as { state?: unknown }).state);
    if (!shared) return undefined;
    const state: BarrierState = {
      buffer,
      cond,
      timeout: this.#timeout,
      action: this.#actionToSend(),
    };
    noteSharedExport(state, { value: this, proxy: shared.proxy });
    return state;
  }

  #actionToSend(): TargetSpec | undefined {
    if (this.#actionSpec || !this.#action) return this.#actionSpec;
    return resolveTarget(this.#action, ACTION, this.#actionModule);
  }

  #localState(ctx: WireContext): BarrierState {
    return {
      buffer: memoryForm(this.#cells.buffer),
      cond: encode(this.#cond, ctx),
      timeout: this.#timeout,
      action: this.#actionToSend(),
    };
  }
}

/**
 * Where a party in another OS process (a subprocess child) waits: this
 * object lives with the barrier's memory (in the agent that serves the
 * child, see `_backend/subprocess/proxy/`), and the child holds a proxy of
 * it. The last party of a round with an action keeps the barrier's lock
 * while it runs the action in its own process, then ends the round with
 * `tripped()`.
 */
class BarrierHome {
  #barrier: Barrier;
  #held = new Map<number, Disposable>();
  #trips = 0;

  constructor(barrier: Barrier) {
    this.#barrier = barrier;
  }

  get parties(): number {
    return this.#barrier.parties;
  }

  get nWaiting(): number {
    return this.#barrier.nWaiting;
  }

  get broken(): boolean {
    return this.#barrier.broken;
  }

  async arrive(
    timeout: number | undefined,
    hasAction: boolean,
  ): Promise<Arrival> {
    return this.#arrival(
      await homeSteps.arrive(this.#barrier, timeout, hasAction),
    );
  }

  arriveSync(timeout: number | undefined, hasAction: boolean): Arrival {
    return this.#arrival(
      homeSteps.arriveSync(this.#barrier, timeout, hasAction),
    );
  }

  #arrival({ index, held }: { index: number; held?: Disposable }): Arrival {
    if (!held) return { index };
    const trip = ++this.#trips;
    this.#held.set(trip, held);
    return { index, trip };
  }

  tripped(trip: number, ok: boolean): void {
    const held = this.#held.get(trip);
    if (!held) return;
    this.#held.delete(trip);
    homeSteps.finish(this.#barrier, held, ok);
  }

  reset(): void {
    this.#barrier.reset();
  }

  abort(): void {
    this.#barrier.abort();
  }

  [toWire](ctx: WireContext): WireForm {
    const state = homeSteps.localState(this.#barrier, ctx);
    // The home never runs the action: the remote party does.
    return {
      kind: "BarrierHome",
      module: import.meta.url,
      state: { ...state, action: undefined },
    };
  }
}

registerKind("Barrier", (state) => {
  reviving = state as BarrierState | RemoteBarrierState;
  return new Barrier(1);
});

registerKind("BarrierHome", (state) => {
  reviving = state as BarrierState;
  return new BarrierHome(new Barrier(1));
});
