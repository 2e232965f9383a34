// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A queue as a JetStream work-queue stream with one durable pull consumer
// that every getter of the namespace shares: the server hands each item to
// one getter, and redelivers it when that getter does not acknowledge it in
// time (it died). A put carries a message id, so that a put retried after a
// lost reply is stored once.
import { Empty, Full, ProcessError } from "../errors.ts";
import { checkTimeout, deadlineOf, remaining } from "../_timeout.ts";
import {
  checkName,
  decode,
  encode,
  type JsMsg,
  type Link,
  newId,
  retrying,
  sleep,
  type StreamInfo,
  WORKING_EVERY_MS,
} from "./nats.ts";
import { unrefTimer } from "../_deno_compat.ts";

/** Options of {@linkcode ClusterQueue}. */
export interface ClusterQueueOptions {
  /**
   * The most items the queue holds (default 0: no limit); set by whichever
   * handle makes the queue first.
   */
  maxsize?: number;
}

/** Options of a queue's `put`. */
export interface ClusterPutOptions {
  /** Whether to wait while the queue is full (default `true`). */
  block?: boolean;
  /** Milliseconds to wait at most (default: forever). */
  timeout?: number;
}

/** Options of a queue's `get`. */
export interface ClusterGetOptions {
  /** Whether to wait while the queue is empty (default `true`). */
  block?: boolean;
  /** Milliseconds to wait at most (default: forever). */
  timeout?: number;
}

/** The shortest wait the client lets a pull request have. */
const MIN_PULL_MS = 1000;
/** The longest single pull request; a longer get makes several. */
const MAX_PULL_MS = 5000;
const GETTERS = "getters";

/** The base class's private steps, for {@linkcode ClusterJoinableQueue}. */
let internals: {
  take(queue: ClusterQueue, options: ClusterGetOptions): Promise<JsMsg>;
  acknowledge(queue: ClusterQueue, message: JsMsg): Promise<void>;
  streamInfo(queue: ClusterQueue): Promise<StreamInfo>;
};

/**
 * A queue shared by every program of a cluster namespace that names it:
 * Python's `Queue` API, each item delivered to exactly one getter. Made by
 * `new cluster.Queue(name)` (see `connectCluster`).
 *
 * @example A producer and a consumer, in any two programs
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function produce(): Promise<void> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const jobs = new cluster.Queue<{ url: string }>("jobs");
 *   await jobs.put({ url: "https://example.com" });
 * }
 *
 * export async function consume(): Promise<string> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const jobs = new cluster.Queue<{ url: string }>("jobs");
 *   return (await jobs.get({ timeout: 5000 })).url;
 * }
 * ```
 */
export class ClusterQueue<T = unknown> implements AsyncIterable<T> {
  /** The queue's name in its namespace. */
  readonly name: string;
  #link: Link;
  #stream: string;
  #subject: string;
  #ready: Promise<void>;
  #closed = false;

  /** @internal Made by a cluster connection. */
  constructor(link: Link, name: string, options: ClusterQueueOptions = {}) {
    this.name = checkName(name, "queue name");
    const maxsize = options.maxsize ?? 0;
    if (!Number.isInteger(maxsize) || maxsize < 0) {
      throw new RangeError(
        `The maxsize must be a whole number from 0 up (0: no limit), got ${maxsize}`,
      );
    }
    this.#link = link;
    this.#stream = link.streamName(`Q_${name}`);
    this.#subject = link.subject("q", name);
    this.#ready = link.ensureStream(this.#stream, [this.#subject], {
      workQueue: true,
      maxMsgs: maxsize || undefined,
      consumer: GETTERS,
    });
    // A failure is reported by the first call that waits for it.
    this.#ready.catch(() => {});
  }

  /**
   * Puts an item at the end (any value V8 serializes: Maps, Dates, typed
   * arrays, bigints). Once it resolved, the item is stored on the servers.
   *
   * @param item The item.
   * @param options Whether and how long to wait while the queue is full.
   * @throws {Full} When the queue stayed full.
   */
  async put(item: T, options: ClusterPutOptions = {}): Promise<void> {
    this.#checkOpen();
    const { block = true, timeout } = options;
    checkTimeout(timeout);
    const deadline = block ? deadlineOf(timeout) : 0;
    await this.#ready;
    const data = encode(item);
    // One id for every try: the server stores the item once.
    const id = newId();
    let pause = 20;
    while (true) {
      try {
        await this.#link.publish(this.#subject, data, id);
        return;
      } catch (error) {
        if (!/maximum messages/i.test(String((error as Error)?.message))) {
          throw error;
        }
      }
      const left = remaining(deadline);
      if (left === 0) throw new Full("The queue is full");
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, 200);
    }
  }

  /**
   * `put(item, { block: false })`.
   *
   * @param item The item.
   * @throws {Full} When the queue is full.
   */
  putNowait(item: T): Promise<void> {
    return this.put(item, { block: false });
  }

  /**
   * Takes the item at the front: no other getter gets it.
   *
   * @param options Whether and how long to wait while the queue is empty.
   * @returns The item.
   * @throws {Empty} When no item came in time.
   */
  async get(options: ClusterGetOptions = {}): Promise<T> {
    const message = await this.#take(options);
    await this.#acknowledge(message);
    return decode<T>(message.data);
  }

  /**
   * `get({ block: false })`.
   *
   * @returns The item.
   * @throws {Empty} When the queue is empty.
   */
  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /**
   * How many items wait to be got (delivered to no getter yet).
   *
   * @returns The count.
   */
  async qsize(): Promise<number> {
    await this.#ready;
    const info = await retrying(() =>
      this.#link.jsm.consumers.info(this.#stream, GETTERS)
    );
    return info.num_pending;
  }

  /**
   * Whether no item waits to be got.
   *
   * @returns `qsize() === 0`.
   */
  async empty(): Promise<boolean> {
    return await this.qsize() === 0;
  }

  /**
   * Whether the queue holds its `maxsize` (items got but not yet
   * acknowledged count too).
   *
   * @returns Whether a put would wait.
   */
  async full(): Promise<boolean> {
    const info = await this.#streamInfo();
    const max = info.config.max_msgs;
    return max > 0 && info.state.messages >= max;
  }

  static {
    // What JoinableQueue uses of its base, kept out of the public type.
    internals = {
      take: (queue, options) => queue.#take(options),
      acknowledge: (queue, message) => queue.#acknowledge(message),
      streamInfo: (queue) => queue.#streamInfo(),
    };
  }

  /** The state of the queue's stream: items stored, got or not. */
  async #streamInfo(): Promise<StreamInfo> {
    await this.#ready;
    return await retrying(() => this.#link.jsm.streams.info(this.#stream));
  }

  /** This handle takes no more puts or gets; the queue lives on. */
  close(): void {
    this.#closed = true;
  }

  /** Gets items, forever (until the handle is closed). */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (!this.#closed) yield await this.get();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new ProcessError(
        `The queue ${this.name} is closed in this program: make a new handle to use it`,
      );
    }
  }

  /** Waits for the next item's delivery (not yet acknowledged). */
  async #take(options: ClusterGetOptions): Promise<JsMsg> {
    this.#checkOpen();
    const { block = true, timeout } = options;
    checkTimeout(timeout);
    const deadline = deadlineOf(block ? timeout : 0);
    await this.#ready;
    const consumer = await retrying(() =>
      this.#link.js.consumers.get(this.#stream, GETTERS)
    );
    while (true) {
      const left = remaining(deadline);
      if (!block && await this.qsize() === 0) break;
      let message: JsMsg | null = null;
      try {
        message = await consumer.next({
          expires: Math.max(MIN_PULL_MS, Math.min(left, MAX_PULL_MS)),
        });
      } catch (error) {
        if (remaining(deadline) === 0) throw error;
        await sleep(100);
        continue;
      }
      if (message) {
        if (remaining(deadline) === 0 && block && timeout !== undefined) {
          // It came after the caller stopped waiting: let another take it.
          message.nak();
          break;
        }
        return message;
      }
      if (remaining(deadline) === 0) break;
    }
    throw new Empty("The queue is empty");
  }

  /** Acknowledges a delivery, confirmed by the server. */
  async #acknowledge(message: JsMsg): Promise<void> {
    await retrying(() => message.ackAck({ timeout: 5000 }).then(() => {}));
  }
}

/**
 * A {@linkcode ClusterQueue} whose items are acknowledged by `taskDone()`,
 * not by `get()`: an item whose getter dies before `taskDone()` is
 * delivered again to another getter. `join()` waits until every item put
 * was got and done.
 *
 * @example Acknowledge an item once its work is done
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function work(): Promise<void> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const tasks = new cluster.JoinableQueue<number>("tasks");
 *   const n = await tasks.get();
 *   console.log(n * n); // should this program die here, another gets n
 *   await tasks.taskDone();
 * }
 * ```
 */
export class ClusterJoinableQueue<T = unknown> extends ClusterQueue<T> {
  #held: { message: JsMsg; timer: ReturnType<typeof setInterval> }[] = [];

  /**
   * Takes the item at the front. It stays this handle's until
   * `taskDone()`; should this program die first, it is delivered again.
   *
   * @param options Whether and how long to wait while the queue is empty.
   * @returns The item.
   * @throws {Empty} When no item came in time.
   */
  override async get(options: ClusterGetOptions = {}): Promise<T> {
    const message = await internals.take(this, options);
    const timer = setInterval(() => message.working(), WORKING_EVERY_MS);
    unrefTimer(timer);
    this.#held.push({ message, timer });
    return decode<T>(message.data);
  }

  /**
   * Says that the oldest item this handle got is done: it is acknowledged
   * and leaves the queue for good.
   *
   * @throws {RangeError} When this handle holds no item not yet done.
   */
  async taskDone(): Promise<void> {
    const held = this.#held.shift();
    if (!held) {
      throw new RangeError(
        "taskDone() was called more times than this handle got items: call it once per item got",
      );
    }
    clearInterval(held.timer);
    await internals.acknowledge(this, held.message);
  }

  /**
   * Waits until every item put was got and done (in any program).
   *
   * @param timeout Milliseconds to wait at most (default: forever).
   * @returns `true`, or `false` when the timeout passed first.
   */
  async join(timeout?: number): Promise<boolean> {
    const deadline = deadlineOf(timeout);
    while (true) {
      if (await this.#unfinished() === 0) return true;
      const left = remaining(deadline);
      if (left === 0) return false;
      await sleep(Math.min(50, left));
    }
  }

  async #unfinished(): Promise<number> {
    return (await internals.streamInfo(this)).state.messages;
  }
}
