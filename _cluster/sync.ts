// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Event, Semaphore, Barrier and Value as keys of the namespace's `sync`
// bucket: every change is a compare-and-set on the key's revision (retried
// when another program changed it first), and every wait is a watch on the
// key. They hold no lease: a program that dies holding a semaphore's permit
// keeps it (use a Lock, whose lease runs out, where that matters).
import { BrokenBarrierError } from "../errors.ts";
import { checkTimeout, deadlineOf, remaining } from "../_timeout.ts";
import {
  checkName,
  decode,
  encode,
  type KV,
  type KvEntry,
  type Link,
  retrying,
  sleep,
} from "./nats.ts";

/** How often a waiter reads the key beside its watch. */
const POLL_MS = 1000;

/** A write on a key that lost to another revision. */
function lostRace(error: unknown): boolean {
  return /wrong last sequence|key exists/i.test(
    String((error as Error)?.message),
  );
}

/** One key of the sync bucket, read and changed by compare-and-set. */
class Cell<T> {
  readonly #link: Link;
  readonly #key: string;
  readonly #initial: () => T;
  #kv: Promise<KV> | undefined;

  constructor(link: Link, key: string, initial: () => T) {
    this.#link = link;
    this.#key = key;
    this.#initial = initial;
  }

  #bucket(): Promise<KV> {
    this.#kv ??= this.#link.bucket("sync");
    return this.#kv;
  }

  /** The value and its revision, made with the initial value when absent. */
  async read(): Promise<{ value: T; revision: number }> {
    const kv = await this.#bucket();
    while (true) {
      const entry = await retrying(() => kv.get(this.#key));
      if (entry && entry.operation === "PUT") {
        return { value: decode<T>(entry.value), revision: entry.revision };
      }
      const value = this.#initial();
      try {
        const revision = await retrying(() =>
          kv.create(this.#key, encode(value))
        );
        return { value, revision };
      } catch (error) {
        if (!lostRace(error)) throw error;
      }
    }
  }

  /**
   * Changes the value with `change` (which returns `undefined` to leave it),
   * retrying when another program changed it first.
   */
  async change<R>(
    change: (value: T) => { value: T; result: R } | undefined,
  ): Promise<{ changed: boolean; result?: R; value: T }> {
    const kv = await this.#bucket();
    while (true) {
      const { value, revision } = await this.read();
      const next = change(value);
      if (!next) return { changed: false, value };
      try {
        await retrying(() =>
          kv.update(this.#key, encode(next.value), revision)
        );
        return { changed: true, result: next.result, value: next.value };
      } catch (error) {
        if (!lostRace(error)) throw error;
      }
    }
  }

  /** Sets the value, whatever it was. */
  async write(value: T): Promise<void> {
    const kv = await this.#bucket();
    await retrying(() => kv.put(this.#key, encode(value)));
  }

  /**
   * Waits until `until(value)` holds (checked now and at each change), or
   * the deadline passed.
   *
   * @returns The value that satisfied it, or `undefined` at the deadline.
   */
  async waitFor(
    until: (value: T) => boolean,
    deadline: number,
  ): Promise<T | undefined> {
    const kv = await this.#bucket();
    const watch = await retrying(() => kv.watch({ key: this.#key }));
    const stop = new AbortController();
    try {
      const current = await this.read();
      if (until(current.value)) return current.value;
      const seen = (async () => {
        for await (const entry of watch as AsyncIterable<KvEntry>) {
          if (entry.operation !== "PUT") continue;
          const value = decode<T>(entry.value);
          if (until(value)) return value;
        }
        return undefined;
      })();
      // A watch whose server went may say nothing more: read now and then
      // too.
      const polled = (async () => {
        while (!stop.signal.aborted) {
          await sleep(POLL_MS, stop.signal);
          if (stop.signal.aborted) break;
          const now = await this.read().catch(() => undefined);
          if (now && until(now.value)) return now.value;
        }
        return undefined;
      })();
      const left = remaining(deadline);
      const found = Promise.race([seen, polled]);
      if (left === Infinity) return await found;
      return await Promise.race([
        found,
        sleep(left, stop.signal).then(() => undefined),
      ]);
    } finally {
      stop.abort();
      watch.stop();
    }
  }
}

/**
 * An event of a cluster namespace, by name: Python's `Event`, its flag a
 * key every program of the namespace sees.
 *
 * @example Start every worker at once
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function startSignal(): Promise<void> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   await new cluster.Event("start").set();
 * }
 *
 * export async function waitForStart(): Promise<boolean> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   return await new cluster.Event("start").wait(60_000);
 * }
 * ```
 */
export class ClusterEvent {
  /** The event's name. */
  readonly name: string;
  #cell: Cell<boolean>;

  /** @internal Made by a cluster connection. */
  constructor(link: Link, name: string) {
    this.name = checkName(name, "event name");
    this.#cell = new Cell(link, `event_${name}`, () => false);
  }

  /** Sets the flag: every waiter wakes. */
  async set(): Promise<void> {
    await this.#cell.write(true);
  }

  /** Clears the flag. */
  async clear(): Promise<void> {
    await this.#cell.write(false);
  }

  /**
   * Whether the flag is set.
   *
   * @returns The flag.
   */
  async isSet(): Promise<boolean> {
    return (await this.#cell.read()).value;
  }

  /**
   * Waits until the flag is set.
   *
   * @param timeout Milliseconds to wait at most (default: forever).
   * @returns `true` once set, `false` when the timeout passed first.
   */
  async wait(timeout?: number): Promise<boolean> {
    const value = await this.#cell.waitFor((set) => set, deadlineOf(timeout));
    return value === true;
  }
}

/** Options of {@linkcode ClusterSemaphore}. */
export interface ClusterSemaphoreOptions {
  /** The initial count, set by whichever handle makes it first (default 1). */
  value?: number;
}

/**
 * A semaphore of a cluster namespace, by name: Python's `Semaphore`, its
 * count a key changed by compare-and-set. A permit is not a lease: a program
 * that dies holding one keeps it.
 *
 * @example At most two downloads at a time, across the cluster
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function download(): Promise<void> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const slots = new cluster.Semaphore("downloads", { value: 2 });
 *   await slots.acquire();
 *   try {
 *     // download...
 *   } finally {
 *     await slots.release();
 *   }
 * }
 * ```
 */
export class ClusterSemaphore {
  /** The semaphore's name. */
  readonly name: string;
  #cell: Cell<number>;

  /** @internal Made by a cluster connection. */
  constructor(link: Link, name: string, options: ClusterSemaphoreOptions = {}) {
    this.name = checkName(name, "semaphore name");
    const value = options.value ?? 1;
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(
        `The semaphore's value must be a whole number from 0 up, got ${value}`,
      );
    }
    this.#cell = new Cell(link, `semaphore_${name}`, () => value);
  }

  /**
   * Takes a permit.
   *
   * @param options Whether and how long to wait.
   * @returns `true` once taken, `false` when not blocking or the timeout passed.
   */
  async acquire(
    options: { blocking?: boolean; timeout?: number } = {},
  ): Promise<boolean> {
    const { blocking = true, timeout } = options;
    checkTimeout(timeout);
    const deadline = deadlineOf(blocking ? timeout : 0);
    while (true) {
      const { changed } = await this.#cell.change((count) =>
        count > 0 ? { value: count - 1, result: true } : undefined
      );
      if (changed) return true;
      if (remaining(deadline) === 0) return false;
      await this.#cell.waitFor((count) => count > 0, deadline);
    }
  }

  /**
   * Gives back `n` permits.
   *
   * @param n How many (default 1).
   */
  async release(n = 1): Promise<void> {
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(`Cannot release ${n} permits: give 1 or more`);
    }
    await this.#cell.change((count) => ({ value: count + n, result: true }));
  }

  /**
   * The count of free permits.
   *
   * @returns The count.
   */
  async getValue(): Promise<number> {
    return (await this.#cell.read()).value;
  }
}

interface BarrierState {
  generation: number;
  count: number;
  broken: boolean;
}

/**
 * A barrier of a cluster namespace, by name: Python's `Barrier`; `parties`
 * programs (or tasks) call `wait()` and all go on once the last came.
 *
 * @example Three programs meet
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function meet(): Promise<number> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const barrier = new cluster.Barrier("phase-1", 3, { timeout: 60_000 });
 *   return await barrier.wait(); // 0, 1 or 2
 * }
 * ```
 */
export class ClusterBarrier {
  /** The barrier's name. */
  readonly name: string;
  /** How many must wait before all go on. */
  readonly parties: number;
  #timeout: number | undefined;
  #cell: Cell<BarrierState>;

  /** @internal Made by a cluster connection. */
  constructor(
    link: Link,
    name: string,
    parties: number,
    options: { timeout?: number } = {},
  ) {
    this.name = checkName(name, "barrier name");
    if (!Number.isInteger(parties) || parties < 1) {
      throw new RangeError(
        `A barrier needs a whole number of parties from 1 up, got ${parties}`,
      );
    }
    checkTimeout(options.timeout);
    this.parties = parties;
    this.#timeout = options.timeout;
    this.#cell = new Cell(
      link,
      `barrier_${name}`,
      () => ({ generation: 0, count: 0, broken: false }),
    );
  }

  /**
   * Waits until `parties` waiters came.
   *
   * @param timeout Milliseconds to wait at most (default: the barrier's).
   * @returns This waiter's arrival index, from 0 to `parties - 1`.
   * @throws {BrokenBarrierError} When the barrier is or becomes broken (a
   * timeout, `abort()`, `reset()`).
   */
  async wait(timeout: number | undefined = this.#timeout): Promise<number> {
    const deadline = deadlineOf(timeout);
    const arrived = await this.#cell.change((state) => {
      if (state.broken) return undefined;
      const count = state.count + 1;
      return count === this.parties
        ? {
          value: { generation: state.generation + 1, count: 0, broken: false },
          result: { index: count - 1, generation: state.generation },
        }
        : {
          value: { ...state, count },
          result: { index: count - 1, generation: state.generation },
        };
    });
    if (!arrived.changed) throw new BrokenBarrierError("The barrier is broken");
    const { index, generation } = arrived.result!;
    if (index === this.parties - 1) return index;
    const after = await this.#cell.waitFor(
      (state) => state.generation !== generation || state.broken,
      deadline,
    );
    if (after && !after.broken && after.generation === generation + 1) {
      return index;
    }
    if (!after) await this.abort();
    throw new BrokenBarrierError(
      after
        ? "The barrier was broken or reset while waiting"
        : "The barrier's wait timed out",
    );
  }

  /** Breaks the barrier: waiters and later callers get `BrokenBarrierError`. */
  async abort(): Promise<void> {
    await this.#cell.change((state) => ({
      value: { ...state, broken: true },
      result: true,
    }));
  }

  /** Makes a broken barrier usable again (waiters get `BrokenBarrierError`). */
  async reset(): Promise<void> {
    await this.#cell.change((state) => ({
      value: { generation: state.generation + 2, count: 0, broken: false },
      result: true,
    }));
  }

  /**
   * How many wait now.
   *
   * @returns The count.
   */
  async nWaiting(): Promise<number> {
    return (await this.#cell.read()).value.count;
  }

  /**
   * Whether the barrier is broken.
   *
   * @returns The flag.
   */
  async broken(): Promise<boolean> {
    return (await this.#cell.read()).value.broken;
  }
}

/**
 * A value of a cluster namespace, by name: Python's `Value` as a key; any
 * value V8 serializes. Reads and writes go to the servers, so they are
 * async; `update()` changes it atomically.
 *
 * @example A counter every program adds to
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function count(): Promise<number> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const done = new cluster.Value("done", 0);
 *   return await done.update((n) => n + 1);
 * }
 * ```
 */
export class ClusterValue<T = unknown> {
  /** The value's name. */
  readonly name: string;
  #cell: Cell<T>;

  /** @internal Made by a cluster connection. */
  constructor(link: Link, name: string, initial: T) {
    this.name = checkName(name, "value name");
    this.#cell = new Cell(link, `value_${name}`, () => initial);
  }

  /**
   * The value now.
   *
   * @returns The value.
   */
  async get(): Promise<T> {
    return (await this.#cell.read()).value;
  }

  /**
   * Sets the value.
   *
   * @param value The new value.
   */
  async set(value: T): Promise<void> {
    await this.#cell.write(value);
  }

  /**
   * Changes the value atomically: `fn` gets the current value and returns
   * the new one; it runs again when another program changed it first.
   *
   * @param fn The change.
   * @returns The new value.
   */
  async update(fn: (value: T) => T): Promise<T> {
    return (await this.#cell.change((value) => ({
      value: fn(value),
      result: true,
    })))
      .value;
  }
}
