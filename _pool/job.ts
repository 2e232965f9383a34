// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The pool's bookkeeping of one call (a map, an apply, an imap): its chunks
// of tasks, and where their results go as chunks of results come back.
import type { TargetSpec } from "../_target.ts";
import { type Packed, unpack, unpackInto } from "./pack.ts";

/** A run of consecutive tasks of one job, sent to a worker as one message. */
export interface Chunk {
  id: number;
  job: Job;
  /** The index of the chunk's first task in its job. */
  start: number;
  /**
   * Its tasks: the `count` items of `source` from index `from` on (a range
   * of the job's input, packed straight from there when it is sent).
   */
  source: unknown[];
  from: number;
  count: number;
}

/**
 * Tasks of one job waiting for a worker: the `count` items of `source` from
 * index `from` on, which are the job's tasks from `start` on. Its items are
 * copied out only when a worker takes them.
 */
export interface Span {
  job: Job;
  start: number;
  source: unknown[];
  from: number;
  count: number;
}

/** The outcome of a chunk: its results, or the errors of some of its tasks. */
interface Outcome {
  start: number;
  count: number;
  results?: unknown[];
  /** Errors by index within the chunk. */
  errors?: Map<number, Error>;
  /** Set when the whole chunk failed (its worker died). */
  failed?: Error;
}

/** How far a call on the pool got, as `onProgress` is told. */
export interface Progress {
  /** Tasks done (succeeded or failed). */
  done: number;
  /** Tasks in all; `undefined` while the input of an `imap` is still read. */
  total: number | undefined;
  /** Milliseconds since the call. */
  elapsedMs: number;
}

/**
 * Set on the options of an `imap` whose items are argument lists (what
 * `ProcessPoolExecutor.map` of several iterables runs): not public API.
 */
export const STARRED: unique symbol = Symbol("multiprocessing.starred");

/** The least time between two `onProgress` calls, but for the last one. */
const PROGRESS_EVERY_MS = 100;

/** One call on the pool. */
export abstract class Job {
  /** The task function. */
  readonly fn: TargetSpec;
  /** The function's key, by which a worker caches it. */
  readonly key: string;
  /** Whether each item is an argument list. */
  readonly star: boolean;
  /** Set once no more of its tasks need to run. */
  settled = false;
  /** Chunks of this job waiting in the pool's queue. */
  queued = 0;
  /** Called once, when the job settles. */
  onSettled: (() => void) | undefined;
  /** Set once a chunk of it went to a worker: it may be running. */
  started = false;
  /** Told how far the job got, every 100 ms at most and once at the end. */
  onProgress: ((progress: Progress) => void) | undefined;
  /** Given what the job's tasks `emit()`. */
  onEvent: ((value: unknown) => void) | undefined;
  /** Tasks in all, once known. */
  protected total: number | undefined;
  #done = 0;
  /** When the job started, for `onProgress` (the clock is read only for it). */
  #since = 0;
  #lastProgress = -Infinity;

  constructor(fn: TargetSpec, star: boolean) {
    this.fn = fn;
    this.key = `${fn.module}#${fn.name}`;
    this.star = star;
  }

  /** Tells `onProgress` how far the job got, from now on. */
  watchProgress(onProgress: (progress: Progress) => void): void {
    this.onProgress = onProgress;
    this.#since = performance.now();
  }

  /** A chunk's results came back. */
  abstract deliver(
    start: number,
    results: unknown[],
    errors: Map<number, Error> | undefined,
  ): void;

  /**
   * A chunk's results came back as they travelled (see `pack.ts`); a job
   * that can take them so writes them straight where they go.
   */
  deliverPacked(
    start: number,
    results: Packed,
    errors: Map<number, Error> | undefined,
  ): void {
    this.deliver(start, unpack(results), errors);
  }

  /** A chunk's tasks failed together (their worker died, they could not be sent). */
  abstract failChunk(start: number, count: number, error: Error): void;

  /** Ends the job early: its pending tasks are dropped, its caller gets `reason`. */
  abstract cancel(reason: unknown): void;

  /** Called by the pool when a chunk left the queue. */
  taken(): void {}

  /**
   * Counts `count` more tasks done and tells `onProgress` when 100 ms
   * passed since it was last told, or when every task is done.
   */
  protected progressed(count: number): void {
    this.#done += count;
    if (!this.onProgress) return;
    const now = performance.now();
    const last = this.total !== undefined && this.#done >= this.total;
    if (!last && now - this.#lastProgress < PROGRESS_EVERY_MS) return;
    this.#lastProgress = now;
    const progress = {
      done: this.#done,
      total: this.total,
      elapsedMs: now - this.#since,
    };
    const onProgress = this.onProgress;
    if (last) this.onProgress = undefined; // once at the end
    try {
      onProgress(progress);
    } catch (error) {
      reportError(error);
    }
  }

  protected settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled?.();
  }
}

/** A job whose caller waits for all its results at once (map, apply). */
export class ListJob extends Job {
  /** Resolves with every result, in order. */
  readonly promise: Promise<unknown[]>;
  #results: unknown[] | undefined;
  #length = 0;
  #remaining: number;
  #resolve!: (results: unknown[]) => void;
  #reject!: (error: unknown) => void;

  constructor(fn: TargetSpec, star: boolean) {
    super(fn, star);
    this.#remaining = Infinity;
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Sets how many results to wait for, once the input was read. */
  expect(length: number): void {
    if (this.settled) return;
    this.#length = length;
    this.total = length;
    this.#remaining = length;
    if (length === 0) {
      this.settle();
      this.#resolve([]);
    }
  }

  deliver(
    start: number,
    results: unknown[],
    errors: Map<number, Error> | undefined,
  ): void {
    this.deliverPacked(start, results, errors);
  }

  override deliverPacked(
    start: number,
    results: Packed,
    errors: Map<number, Error> | undefined,
  ): void {
    if (this.settled) return;
    if (errors) {
      // Python's map fails with the first error; the chunk's own order
      // decides which one that is.
      this.cancel(errors.get(Math.min(...errors.keys())));
      return;
    }
    // Made on the first delivery, not in expect(): a million-slot array
    // takes about 25 ms to allocate, which would add to the copy of the
    // input in the one synchronous stretch of map().
    const all = this.#results ??= new Array(this.#length);
    const count = unpackInto(results, all, start);
    this.#remaining -= count;
    this.progressed(count);
    if (this.#remaining === 0) {
      this.settle();
      this.#resolve(all);
    }
  }

  failChunk(_start: number, _count: number, error: Error): void {
    this.cancel(error);
  }

  cancel(reason: unknown): void {
    if (this.settled) return;
    this.settle();
    this.#reject(reason);
  }
}

/**
 * A job whose results are read as they come (imap, imapUnordered). Its tasks
 * are fed lazily from the input; its outcomes wait here for the reader.
 */
export class StreamJob extends Job {
  readonly ordered: boolean;
  /** Ordered: outcomes by start index; unordered: in arrival order. */
  #byStart = new Map<number, Outcome>();
  #arrived: Outcome[] = [];
  #nextStart = 0;
  #current: Outcome | undefined;
  #offset = 0;
  /** How many tasks the input gave, once it ended. */
  #total: number | undefined;
  #received = 0;
  #yielded = 0;
  /** Why reading ends at once (abort, terminate). */
  #cancelled: { reason: unknown } | undefined;
  /** What reading the input threw; it comes after the results before it. */
  #inputError: { reason: unknown } | undefined;
  #finished = false;
  #wake: (() => void) | undefined;
  #room: (() => void) | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(fn: TargetSpec, star: boolean, ordered: boolean) {
    super(fn, star);
    this.ordered = ordered;
  }

  deliver(
    start: number,
    results: unknown[],
    errors: Map<number, Error> | undefined,
  ): void {
    this.#add({ start, count: results.length, results, errors });
  }

  failChunk(start: number, count: number, error: Error): void {
    this.#add({ start, count, failed: error });
  }

  cancel(reason: unknown): void {
    if (this.settled) return;
    this.#cancelled = { reason };
    this.settle();
    this.#notify();
    this.taken();
  }

  /** The input ended after `total` items. */
  inputEnded(total: number): void {
    this.#total = total;
    this.total = total;
    this.progressed(0); // the last call, if every task is done already
    this.#checkComplete();
  }

  /** Reading the input threw after `index` items: that error comes next. */
  inputFailed(index: number, error: unknown): void {
    this.#inputError = { reason: error };
    this.inputEnded(index);
  }

  override taken(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.();
  }

  /** Resolves when fewer than `limit` of its chunks wait in the queue. */
  async room(limit: number): Promise<void> {
    while (this.queued >= limit && !this.settled) {
      await new Promise<void>((resolve) => this.#room = resolve);
    }
  }

  /** The reader's next result (calls are served one after another). */
  next(): Promise<IteratorResult<unknown, undefined>> {
    const result = this.#chain.then(() => this.#next());
    this.#chain = result.catch(() => {});
    return result;
  }

  /** The reader stopped: drop the tasks not yet run. */
  stop(): void {
    this.#end();
    this.#notify();
  }

  #add(outcome: Outcome): void {
    if (this.settled) return;
    this.#received += outcome.count;
    this.progressed(outcome.count);
    if (this.ordered) this.#byStart.set(outcome.start, outcome);
    else this.#arrived.push(outcome);
    this.#notify();
    this.#checkComplete();
  }

  #checkComplete(): void {
    if (this.#total !== undefined && this.#received >= this.#total) {
      // Every result is here: nothing of this job runs any more.
      this.settle();
      this.#notify();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #next(): Promise<IteratorResult<unknown, undefined>> {
    while (!this.#finished) {
      if (this.#cancelled) {
        this.#end();
        throw this.#cancelled.reason;
      }
      const current = this.#current;
      if (current && this.#offset < current.count) {
        const i = this.#offset++;
        this.#yielded++;
        const error = current.failed ?? current.errors?.get(i);
        if (error) {
          this.#end();
          throw error;
        }
        return { done: false, value: current.results![i] };
      }
      const next = this.#take();
      if (next) {
        this.#current = next;
        this.#offset = 0;
        continue;
      }
      if (this.#total !== undefined && this.#yielded >= this.#total) {
        this.#end();
        if (this.#inputError) throw this.#inputError.reason;
        break;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return { done: true, value: undefined };
  }

  #take(): Outcome | undefined {
    if (!this.ordered) return this.#arrived.shift();
    const outcome = this.#byStart.get(this.#nextStart);
    if (outcome) {
      this.#byStart.delete(this.#nextStart);
      this.#nextStart += outcome.count;
    }
    return outcome;
  }

  #end(): void {
    this.#finished = true;
    this.#current = undefined;
    this.#byStart.clear();
    this.#arrived = [];
    this.settle();
    this.taken();
  }
}
