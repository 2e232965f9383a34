// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A pool whose workers are the node agents of a namespace. Each chunk of a
// call is one message of a JetStream work-queue stream; an agent takes it,
// runs it on its local pool, publishes the result to this pool's results
// subject, then acknowledges it. An agent that dies before acknowledging
// leaves the chunk to be redelivered elsewhere (after the ack wait); a result
// that arrives twice (the agent died after publishing it) is counted once,
// by its chunk's index.
import { ProcessError } from "../errors.ts";
import { internalModule } from "../_target.ts";
import { functionRef } from "./target.ts";
import {
  decode,
  encode,
  errorIn,
  type Link,
  newId,
  retrying,
  sleep,
} from "./nats.ts";
import {
  ensurePoolStreams,
  type FunctionRef,
  names,
  type ResultMessage,
  type TaskMessage,
} from "./protocol.ts";

internalModule(import.meta.url);

/** A task function of a cluster pool: an exported function, or its module and export name. */
// deno-lint-ignore no-explicit-any
export type ClusterFunction<A extends any[], R> =
  | ((...args: A) => R)
  | { module: string | URL; export: string };

/** Options of {@linkcode ClusterPool}. */
export interface ClusterPoolOptions {
  /**
   * How many times a task may be delivered to an agent that then died
   * before answering (default 3); past that the task fails with a
   * `ProcessError`. A task that throws is not tried again: its error is its
   * result, as in a local pool.
   */
  attempts?: number;
}

/** Options of {@linkcode ClusterPool.map} and its siblings. */
export interface ClusterMapOptions {
  /**
   * How many tasks travel in one message and run in order on one agent
   * (default: `map`/`starmap` about 64 messages per call, `imap` 1).
   */
  chunksize?: number;
  /**
   * Aborting it rejects the call (or ends the iteration) with
   * `signal.reason`, and drops its tasks that no agent started; tasks
   * already running finish, their results unused.
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode ClusterPool.apply}. */
export interface ClusterApplyOptions<R> {
  /** Called with the result, before the promise resolves. */
  callback?: (result: R) => void;
  /** Called with the error, before the promise rejects. */
  errorCallback?: (error: unknown) => void;
  /** Aborting it drops the task if no agent started it. */
  signal?: AbortSignal;
}

const ROLE = {
  noun: "the pool's task function",
  importer: "a node agent",
  option: "",
};

/**
 * Milliseconds without a result, while calls wait, after which the pool
 * reads its results through a new consumer (its server may be gone).
 */
const STALL_MS = 3000;

/** How many chunks a call publishes at once. */
const PUBLISH_WINDOW = 256;

/**
 * Names the task function for the agents. Call it before any `await` of a
 * method, while the caller's frame is on the stack.
 */
function refOf(fn: unknown): Promise<FunctionRef> {
  const ref = functionRef(fn, ROLE);
  ref.catch(() => {}); // Reported where it is awaited.
  return ref;
}

/** One call in flight: its chunks' results as they arrive, in order or not. */
class Job {
  readonly id = newId();
  /** How many chunks the call has, once all were published. */
  total: number | undefined;
  /** Stream sequence of each chunk's message, to delete it on cancel. */
  readonly seqs = new Map<number, number>();
  #arrived = new Map<number, unknown[]>();
  #order: number[] = [];
  #seen = new Set<number>();
  #error: { reason: unknown } | undefined;
  #wake: (() => void) | undefined;
  #yielded = 0;

  get finished(): boolean {
    return this.#error !== undefined ||
      (this.total !== undefined && this.#yielded === this.total);
  }

  /** Whether chunk `index` got its result. */
  answered(index: number): boolean {
    return this.#seen.has(index);
  }

  receive(result: ResultMessage): void {
    if (this.#seen.has(result.index) || this.#error) return;
    this.#seen.add(result.index);
    if (result.error) {
      this.fail(errorIn(result.error));
      return;
    }
    this.#arrived.set(result.index, result.values ?? []);
    this.#order.push(result.index);
    this.#poke();
  }

  fail(reason: unknown): void {
    if (this.#error || this.finished) return;
    this.#error = { reason };
    this.#poke();
  }

  poke(): void {
    this.#poke();
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The results, chunk by chunk: in the call's order, or as they came. */
  async *chunks(ordered: boolean): AsyncGenerator<unknown[]> {
    let next = 0;
    while (true) {
      if (this.#error) throw this.#error.reason;
      if (this.total !== undefined && this.#yielded === this.total) return;
      let index: number | undefined;
      if (ordered) {
        if (this.#arrived.has(next)) index = next++;
      } else {
        index = this.#order.shift();
      }
      if (index === undefined) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      const values = this.#arrived.get(index)!;
      this.#arrived.delete(index);
      this.#yielded++;
      yield values;
    }
  }
}

/**
 * A pool whose workers are the node agents of a cluster namespace: the API
 * of the local `Pool`, with each call's tasks spread over every agent.
 * Made by `cluster.Pool` (see `connectCluster`).
 *
 * @example Spread a map over the agents
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export function square(x: number): number {
 *   return x * x;
 * }
 *
 * export async function squares(): Promise<number[]> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   await using pool = new cluster.Pool({ attempts: 3 });
 *   return await pool.map(square, [1, 2, 3]); // [1, 4, 9]
 * }
 * ```
 */
export class ClusterPool implements AsyncDisposable {
  #link: Link;
  #attempts: number;
  #client = newId();
  #jobs = new Map<string, Job>();
  #reading: Promise<void> | undefined;
  #stopReading: (() => void) | undefined;
  #state: "run" | "close" | "terminate" = "run";
  #idle: Set<() => void> = new Set();

  /** @internal Made by a cluster connection. */
  constructor(link: Link, options: ClusterPoolOptions = {}) {
    const attempts = options.attempts ?? 3;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new RangeError(
        `The attempts must be a whole number from 1 up, got ${attempts}`,
      );
    }
    this.#link = link;
    this.#attempts = attempts;
  }

  /**
   * Calls `fn` on each item, on the agents; resolves with the results in
   * the items' order.
   *
   * @param fn The task function, exported by its module (the agents import it by URL).
   * @param iterable The items.
   * @param options Chunk size and abort signal.
   * @returns The results in order.
   * @throws The first task error, rebuilt; a `ProcessError` for a task
   * whose agents died `attempts` times; `signal.reason` when aborted.
   */
  async map<T, R>(
    fn: ClusterFunction<[T], R>,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ClusterMapOptions = {},
  ): Promise<Awaited<R>[]> {
    return (await this.#collect(
      refOf(fn),
      iterable,
      false,
      options,
    )) as Awaited<R>[];
  }

  /**
   * Like {@linkcode ClusterPool.map}, each item being the arguments of one call.
   *
   * @param fn The task function.
   * @param iterable The argument lists.
   * @param options Chunk size and abort signal.
   * @returns The results in order.
   * @throws As {@linkcode ClusterPool.map}.
   */
  // deno-lint-ignore no-explicit-any
  async starmap<A extends any[], R>(
    fn: ClusterFunction<A, R>,
    iterable: Iterable<A> | AsyncIterable<A>,
    options: ClusterMapOptions = {},
  ): Promise<Awaited<R>[]> {
    return (await this.#collect(
      refOf(fn),
      iterable,
      true,
      options,
    )) as Awaited<R>[];
  }

  /**
   * Calls `fn` on each item on the agents, yielding results in the items'
   * order as they come. Ending the iteration early drops the tasks not started.
   *
   * @param fn The task function.
   * @param iterable The items, read as the call goes.
   * @param options Chunk size (default 1) and abort signal.
   * @returns The results, in order.
   */
  imap<T, R>(
    fn: ClusterFunction<[T], R>,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ClusterMapOptions = {},
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#values(
      refOf(fn),
      iterable,
      options,
      true,
    ) as AsyncIterableIterator<
      Awaited<R>
    >;
  }

  /**
   * Like {@linkcode ClusterPool.imap}, yielding results as they finish.
   *
   * @param fn The task function.
   * @param iterable The items.
   * @param options Chunk size (default 1) and abort signal.
   * @returns The results, as they finish.
   */
  imapUnordered<T, R>(
    fn: ClusterFunction<[T], R>,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ClusterMapOptions = {},
  ): AsyncIterableIterator<Awaited<R>> {
    return this.#values(
      refOf(fn),
      iterable,
      options,
      false,
    ) as AsyncIterableIterator<
      Awaited<R>
    >;
  }

  /**
   * Calls `fn(...args)` once on an agent.
   *
   * @param fn The task function.
   * @param args Its arguments.
   * @param options Callbacks and abort signal.
   * @returns Its result.
   * @throws Its error, rebuilt.
   */
  // deno-lint-ignore no-explicit-any
  async apply<A extends any[], R>(
    fn: ClusterFunction<A, R>,
    args: A,
    options: ClusterApplyOptions<Awaited<R>> = {},
  ): Promise<Awaited<R>> {
    const { callback, errorCallback } = options;
    try {
      const ref = refOf(fn);
      let result: Awaited<R> | undefined;
      for await (
        const chunk of this.#run(ref, [args], true, 1, options.signal, true)
      ) {
        result = chunk[0] as Awaited<R>;
      }
      callback?.(result as Awaited<R>);
      return result as Awaited<R>;
    } catch (error) {
      errorCallback?.(error);
      throw error;
    }
  }

  /**
   * {@linkcode ClusterPool.apply}, under Python's name.
   *
   * @param fn The task function.
   * @param args Its arguments.
   * @param options Callbacks and abort signal.
   * @returns Its result.
   */
  // deno-lint-ignore no-explicit-any
  applyAsync<A extends any[], R>(
    fn: ClusterFunction<A, R>,
    args: A,
    options: ClusterApplyOptions<Awaited<R>> = {},
  ): Promise<Awaited<R>> {
    return this.apply(fn, args, options);
  }

  /** Takes no new calls; calls in flight finish (see {@linkcode ClusterPool.join}). */
  close(): void {
    if (this.#state === "run") this.#state = "close";
  }

  /** Fails the calls in flight and drops their tasks no agent started. */
  terminate(): void {
    if (this.#state === "terminate") return;
    this.#state = "terminate";
    const error = new ProcessError(
      "The pool was terminated before this task finished: close() and join() it instead to let tasks finish",
    );
    for (const job of [...this.#jobs.values()]) this.#cancel(job, error);
  }

  /**
   * Waits until the calls in flight ended (after `close()` or `terminate()`).
   *
   * @throws {ProcessError} On a running pool.
   */
  async join(): Promise<void> {
    if (this.#state === "run") {
      throw new ProcessError(
        "Cannot join a running pool: call close() (to finish the tasks) or terminate() first",
      );
    }
    while (this.#jobs.size) {
      await new Promise<void>((resolve) => this.#idle.add(resolve));
    }
    if (!this.#reading) return;
    this.#stopReading?.();
    await this.#reading;
    // Its results are read: drop them from the servers.
    const n = names(this.#link);
    await this.#link.jsm.streams.purge(n.results, {
      filter: n.resultSubject(this.#client),
    }).catch(() => {});
    this.#reading = undefined;
  }

  /** `terminate()` then `join()`, as the local pool. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.terminate();
    await this.join();
  }

  #check(): void {
    if (this.#state !== "run") {
      throw new ProcessError(
        `The pool is ${
          this.#state === "close" ? "closed" : "terminated"
        }: it takes no new tasks; make a new Pool`,
      );
    }
  }

  /** Runs a whole call (items read first, to size the chunks) and gathers its results in order. */
  async #collect(
    ref: Promise<FunctionRef>,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    star: boolean,
    options: ClusterMapOptions,
  ): Promise<unknown[]> {
    const items = await Array.fromAsync(iterable);
    const results: unknown[] = [];
    for await (
      const chunk of this.#run(
        ref,
        items,
        star,
        chunkOf(items, options),
        options.signal,
        true,
      )
    ) {
      for (const value of chunk) results.push(value);
    }
    return results;
  }

  async *#values(
    ref: Promise<FunctionRef>,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    options: ClusterMapOptions,
    ordered: boolean,
  ): AsyncGenerator<unknown> {
    const chunksize = options.chunksize ?? 1;
    checkChunksize(chunksize);
    for await (
      const chunk of this.#run(
        ref,
        iterable,
        false,
        chunksize,
        options.signal,
        ordered,
      )
    ) {
      yield* chunk;
    }
  }

  async *#run(
    fn: Promise<FunctionRef>,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    star: boolean,
    chunksize: number,
    signal: AbortSignal | undefined,
    ordered: boolean,
  ): AsyncGenerator<unknown[]> {
    this.#check();
    signal?.throwIfAborted();
    const ref = await fn;
    await ensurePoolStreams(this.#link);
    await this.#startReading();
    const job = new Job();
    this.#jobs.set(job.id, job);
    const onAbort = () => this.#cancel(job, signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const feeding = this.#feed(job, ref, items, star, chunksize).catch((
      error,
    ) => job.fail(error));
    try {
      yield* job.chunks(ordered);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (!job.finished) {
        this.#cancel(
          job,
          new ProcessError("The call's results were not read to the end"),
        );
      }
      await feeding;
      this.#jobs.delete(job.id);
      if (!this.#jobs.size) {
        for (const wake of this.#idle) wake();
        this.#idle.clear();
      }
    }
  }

  /** Publishes the call's chunks, a window of them at a time. */
  async #feed(
    job: Job,
    ref: FunctionRef,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    star: boolean,
    chunksize: number,
  ): Promise<void> {
    const n = names(this.#link);
    const reply = n.resultSubject(this.#client);
    let index = 0;
    let pending: Promise<void>[] = [];
    const publish = (chunk: unknown[]) => {
      const message: TaskMessage = {
        job: job.id,
        index,
        fn: ref,
        items: chunk,
        star,
        reply,
        attempts: this.#attempts,
      };
      const at = index++;
      const published = this.#link
        .publish(n.taskSubject, encode(message), `${job.id}.${at}`)
        .then((ack) => {
          job.seqs.set(at, ack.seq);
        });
      // Awaited with the window below, unless the job finishes first and
      // the loop returns: a publish failing then must not be unhandled.
      published.catch(() => {});
      pending.push(published);
    };
    let chunk: unknown[] = [];
    for await (const item of items) {
      if (job.finished) return;
      chunk.push(item);
      if (chunk.length === chunksize) {
        publish(chunk);
        chunk = [];
      }
      if (pending.length >= PUBLISH_WINDOW) {
        await Promise.all(pending);
        pending = [];
      }
    }
    if (chunk.length) publish(chunk);
    await Promise.all(pending);
    job.total = index;
    job.poke();
  }

  /** Fails a call, and drops its tasks that no agent took. */
  #cancel(job: Job, reason: unknown): void {
    if (job.finished) return;
    job.fail(reason);
    const n = names(this.#link);
    const link = this.#link;
    try {
      link.nc.publish(n.cancelSubject, encode(job.id));
    } catch {
      // Closed: nothing to tell.
    }
    for (const [index, seq] of job.seqs) {
      if (!job.answered(index)) {
        link.jsm.streams.deleteMessage(n.tasks, seq, false).catch(() => {});
      }
    }
  }

  /**
   * Reads this pool's results subject from its start, until join(). The
   * reading consumer lives on one server; when that server goes, the client
   * may neither end nor fail the reading, so a reading that brought nothing
   * for {@linkcode STALL_MS} while calls wait is replaced by a new one from
   * the next stream sequence (a result read twice is counted once).
   */
  #startReading(): Promise<void> {
    if (this.#reading) return Promise.resolve();
    const n = names(this.#link);
    let stopped = false;
    let generation = 0;
    let current: { stop(): void } | undefined;
    let next = 1;
    let lastSeen = performance.now();
    /** One reading; it ends when a newer one replaced it. */
    const read = async (mine: number, onStart: () => void) => {
      const consumer = await retrying(() =>
        this.#link.js.consumers.get(n.results, {
          filter_subjects: n.resultSubject(this.#client),
          opt_start_seq: next,
        })
      );
      const messages = await consumer.consume();
      if (stopped || mine !== generation) {
        messages.stop();
        return;
      }
      current = messages;
      onStart();
      for await (const message of messages) {
        lastSeen = performance.now();
        next = Math.max(next, message.seq + 1);
        const result = decode<ResultMessage>(message.data);
        this.#jobs.get(result.job)?.receive(result);
      }
    };
    /** Resolves when calls wait and no result came for a while. */
    const stalled = (signal: AbortSignal) =>
      new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const waiting = [...this.#jobs.values()].some((job) => !job.finished);
          if (waiting && performance.now() - lastSeen > STALL_MS) resolve();
        }, STALL_MS / 4);
        signal.addEventListener("abort", () => {
          clearInterval(timer);
          resolve();
        }, { once: true });
      });
    let stopWaiting = new AbortController();
    let ready!: Promise<void>;
    this.#reading = new Promise<void>((resolveReading) => {
      ready = new Promise<void>((started, failed) => {
        (async () => {
          let first = true;
          while (!stopped) {
            lastSeen = performance.now();
            stopWaiting = new AbortController();
            const mine = ++generation;
            try {
              await Promise.race([
                read(mine, () => {
                  if (first) started();
                  first = false;
                }),
                stalled(stopWaiting.signal),
              ]);
            } catch (error) {
              if (first) {
                stopped = true;
                failed(error);
                for (const job of this.#jobs.values()) job.fail(error);
              }
            } finally {
              stopWaiting.abort();
            }
            generation++;
            current?.stop();
            current = undefined;
            if (!stopped) await sleep(100);
          }
          resolveReading();
        })();
      });
    });
    this.#stopReading = () => {
      stopped = true;
      stopWaiting.abort();
      current?.stop();
    };
    ready.catch(() => this.#reading = undefined);
    return ready;
  }
}

function checkChunksize(chunksize: number): void {
  if (!Number.isInteger(chunksize) || chunksize < 1) {
    throw new RangeError(
      `The chunksize must be a whole number from 1 up, got ${chunksize}`,
    );
  }
}

function chunkOf(items: unknown[], options: ClusterMapOptions): number {
  if (options.chunksize !== undefined) {
    checkChunksize(options.chunksize);
    return options.chunksize;
  }
  return Math.max(1, Math.ceil(items.length / 64));
}
