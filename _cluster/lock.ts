// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A lock as a lease in a key-value bucket of its own, whose age limit is the
// lease: acquiring creates the key only if it is absent; the holder renews
// it (a compare-and-set on its revision) while it holds it; releasing
// deletes it only if the revision is still the holder's. A holder that stops
// renewing (stopped, cut off, dead) loses the key when it ages out on the
// server, so the next acquirer gets it; its late renewal or release finds
// another revision and is refused. The revision of the acquisition grows
// with every acquisition: it is a fencing token for the storage the lock
// guards.
import { ProcessError } from "../errors.ts";
import { checkTimeout, deadlineOf, remaining } from "../_timeout.ts";
import {
  checkName,
  encode,
  type KV,
  type Link,
  newId,
  retrying,
  sleep,
} from "./nats.ts";
import { unrefTimer } from "../_deno_compat.ts";

/** Options of {@linkcode ClusterLock}. */
export interface ClusterLockOptions {
  /**
   * Milliseconds a holder keeps the lock without renewing it (default
   * 10 000); the holder renews it every third of that while it holds it.
   * Set by whichever handle makes the lock first.
   */
  lease?: number;
}

/** Options of {@linkcode ClusterLock.acquire}. */
export interface ClusterAcquireOptions {
  /** Whether to wait while another holds it (default `true`). */
  blocking?: boolean;
  /** Milliseconds to wait at most (default: forever). */
  timeout?: number;
}

/** How often a waiter tries again when no delete told it the lock is free. */
const RETRY_MS = 100;

/** A write on the key that lost to another revision. */
function lostRace(error: unknown): boolean {
  return /wrong last sequence|key exists/i.test(
    String((error as Error)?.message),
  );
}

/**
 * Wakes a waiter when the lock's key is deleted; a lease that ages out
 * says nothing, so the waiter also tries again every so often.
 */
class Freed {
  #wake: (() => void) | undefined;
  #stop: () => void;

  private constructor(stop: () => void) {
    this.#stop = stop;
  }

  static async watch(kv: KV, key: string): Promise<Freed> {
    const watch = await kv.watch({ key, include: "updates" });
    const freed = new Freed(() => watch.stop());
    (async () => {
      for await (const entry of watch) {
        if (entry.operation !== "PUT") freed.#wake?.();
      }
    })().catch(() => {});
    return freed;
  }

  /** Waits for a delete, or `ms`. */
  async next(ms: number): Promise<void> {
    const stop = new AbortController();
    this.#wake = () => stop.abort();
    await sleep(ms, stop.signal);
    this.#wake = undefined;
  }

  stop(): void {
    this.#stop();
  }
}

/**
 * A lock held by one program of a cluster namespace at a time: a lease
 * with a fencing token. Made by `new cluster.Lock(name)` (see
 * `connectCluster`).
 *
 * @example Guard a write with the lock and its fencing token
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function write(): Promise<void> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   await using lock = new cluster.Lock("ledger", { lease: 10_000 });
 *   await lock.acquire();
 *   // Storage that keeps the largest token it saw refuses a stale holder.
 *   console.log("writing with fencing token", lock.token);
 *   // `await using` releases it; a release after the lease ran out throws.
 * }
 * ```
 */
export class ClusterLock implements AsyncDisposable {
  /** The lock's name in its namespace. */
  readonly name: string;
  /** Milliseconds of the lease. */
  readonly lease: number;
  #link: Link;
  #bucket: Promise<KV> | undefined;
  #owner = newId();
  #revision = 0;
  #token: number | undefined;
  #renewer: ReturnType<typeof setInterval> | undefined;
  #lost = false;

  /** @internal Made by a cluster connection. */
  constructor(link: Link, name: string, options: ClusterLockOptions = {}) {
    this.name = checkName(name, "lock name");
    const lease = options.lease ?? 10_000;
    if (!Number.isFinite(lease) || lease < 300) {
      throw new RangeError(
        `The lease must be a number of milliseconds from 300 up, got ${lease}`,
      );
    }
    this.#link = link;
    this.lease = Math.round(lease);
  }

  /**
   * The fencing token of the current hold: the revision of the
   * acquisition, larger than every earlier holder's. Pass it to the storage
   * the lock guards, which refuses a write with a token smaller than one it
   * saw. `undefined` while this handle does not hold the lock.
   */
  get token(): number | undefined {
    return this.#token;
  }

  /**
   * Whether this handle's hold ended because its lease ran out (it could
   * not renew in time): another may hold the lock now.
   */
  get lost(): boolean {
    return this.#lost;
  }

  #kv(): Promise<KV> {
    this.#bucket ??= this.#link.bucket(`lock_${this.name}`, this.lease);
    return this.#bucket;
  }

  /**
   * Acquires the lock.
   *
   * @param options Whether and how long to wait.
   * @returns `true` once held; `false` when not blocking or the timeout passed.
   * @throws {RangeError} For a bad timeout.
   */
  async acquire(options: ClusterAcquireOptions = {}): Promise<boolean> {
    const { blocking = true, timeout } = options;
    checkTimeout(timeout);
    const deadline = deadlineOf(blocking ? timeout : 0);
    const kv = await this.#kv();
    const data = encode({ owner: this.#owner });
    let freed: Freed | undefined;
    try {
      while (true) {
        try {
          const revision = await retrying(() => kv.create(this.name, data));
          this.#held(kv, revision, data);
          return true;
        } catch (error) {
          if (!lostRace(error)) throw error;
        }
        const left = remaining(deadline);
        if (left === 0) return false;
        freed ??= await Freed.watch(kv, this.name);
        await freed.next(Math.min(left, RETRY_MS));
      }
    } finally {
      freed?.stop();
    }
  }

  #held(kv: KV, revision: number, data: Uint8Array): void {
    this.#revision = revision;
    this.#token = revision;
    this.#lost = false;
    const renew = async () => {
      try {
        this.#revision = await kv.update(this.name, data, this.#revision);
      } catch (error) {
        if (lostRace(error) || this.#link.nc.isClosed()) this.#lose();
        // Else the servers did not answer: the next renewal tries again,
        // and the lease runs out on its own if they stay away.
      }
    };
    this.#renewer = setInterval(renew, Math.max(100, this.lease / 3));
    unrefTimer(this.#renewer);
  }

  #lose(): void {
    clearInterval(this.#renewer);
    this.#renewer = undefined;
    this.#token = undefined;
    this.#lost = true;
  }

  /**
   * Releases the lock, only if this handle's lease still holds it.
   *
   * @throws {RangeError} When this handle does not hold it.
   * @throws {ProcessError} When its lease ran out (another may hold it):
   * the release is refused, and whatever the hold guarded may have been
   * touched by the next holder.
   */
  async release(): Promise<void> {
    if (this.#token === undefined) {
      if (this.#lost) {
        this.#lost = false;
        throw this.#refused();
      }
      throw new RangeError(
        `Cannot release the lock ${this.name}: this handle does not hold it`,
      );
    }
    clearInterval(this.#renewer);
    this.#renewer = undefined;
    this.#token = undefined;
    const kv = await this.#kv();
    try {
      await retrying(() =>
        kv.delete(this.name, { previousSeq: this.#revision })
      );
    } catch (error) {
      if (!lostRace(error)) throw error;
      throw this.#refused();
    }
  }

  #refused(): ProcessError {
    return new ProcessError(
      `Cannot release the lock ${this.name}: its lease of ${this.lease} ms ran out before it was renewed, and another may hold it now; the release is refused (use lock.token to fence the storage it guards)`,
    );
  }

  /**
   * Whether some program holds the lock now.
   *
   * @returns `true` while a lease on it runs.
   */
  async locked(): Promise<boolean> {
    const kv = await this.#kv();
    const entry = await retrying(() => kv.get(this.name));
    return entry !== null && entry.operation === "PUT";
  }

  /** Releases the lock if this handle holds it (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#token !== undefined) await this.release();
  }
}

/**
 * A lock that its holder may acquire again: each `acquire()` by the handle
 * that holds it counts once, and the lease is released by the last
 * `release()`. The owner is the handle (one per program or task).
 *
 * @example Acquire twice, release twice
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function nested(): Promise<void> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const lock = new cluster.RLock("config");
 *   await lock.acquire();
 *   await lock.acquire();
 *   await lock.release();
 *   await lock.release(); // the lease is released here
 * }
 * ```
 */
export class ClusterRLock extends ClusterLock {
  #count = 0;

  /**
   * Acquires the lock, or counts one more hold when this handle holds it.
   *
   * @param options Whether and how long to wait.
   * @returns `true` once held.
   */
  override async acquire(
    options: ClusterAcquireOptions = {},
  ): Promise<boolean> {
    if (this.#count > 0 && this.token !== undefined) {
      this.#count++;
      return true;
    }
    const got = await super.acquire(options);
    if (got) this.#count = 1;
    return got;
  }

  /**
   * Counts one hold less; the last one releases the lease.
   *
   * @throws {RangeError} When this handle does not hold it.
   * @throws {ProcessError} When its lease ran out.
   */
  override async release(): Promise<void> {
    if (this.#count > 1 && this.token !== undefined) {
      this.#count--;
      return;
    }
    this.#count = 0;
    await super.release();
  }
}
