// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * The whole API bound to one backend (Python's `multiprocessing.get_context`).
 *
 * ```ts
 * import { getContext } from "@mp/multiprocessing/context";
 *
 * const mp = getContext("worker");
 * const p = new mp.Process({
 *   target: { module: "data:text/javascript,export function f() {}", export: "f" },
 * });
 * p.start();
 * console.log(await p.join()); // 0
 * ```
 *
 * @module
 */
import { launcherOf } from "./_backend/launcher.ts";
import { internalModule } from "./_target.ts";
import { Barrier } from "./barrier.ts";
import { Condition } from "./condition.ts";
import { Event } from "./event.ts";
import { Lock, RLock } from "./lock.ts";
import { Connection, Pipe } from "./pipe.ts";
import { Pool, type PoolOptions } from "./pool.ts";
import * as processModule from "./process.ts";
import {
  type ArgsOf,
  type Backend,
  Process,
  type ProcessOptions,
} from "./process.ts";
import { JoinableQueue, Queue, SimpleQueue } from "./queue.ts";
import { BoundedSemaphore, Semaphore } from "./semaphore.ts";
import { SharedArray, Value } from "./shared.ts";

internalModule(import.meta.url);

// The classes a context holds, and the types they name, for readers of this
// entry point alone.
export type * from "./barrier.ts";
export type * from "./condition.ts";
export type * from "./event.ts";
export type * from "./lock.ts";
export type * from "./pipe.ts";
export type * from "./pool.ts";
export type * from "./process.ts";
export type * from "./queue.ts";
export type * from "./semaphore.ts";
export type * from "./shared.ts";

/**
 * The API of this library with `Process` and `Pool` bound to one backend.
 * The primitives are the same classes everywhere: each works with children
 * of either backend.
 */
export interface Context {
  /** The backend this context starts children on. */
  readonly backend: Backend;
  /** `Process` whose `backend` defaults to this context's. */
  readonly Process: typeof Process;
  /** `Pool` whose `backend` defaults to this context's. */
  readonly Pool: typeof Pool;
  /** See {@linkcode Pipe}. */
  readonly Pipe: typeof Pipe;
  /** See {@linkcode Connection}. */
  readonly Connection: typeof Connection;
  /** See {@linkcode Queue}. */
  readonly Queue: typeof Queue;
  /** See {@linkcode JoinableQueue}. */
  readonly JoinableQueue: typeof JoinableQueue;
  /** See {@linkcode SimpleQueue}. */
  readonly SimpleQueue: typeof SimpleQueue;
  /** See {@linkcode Lock}. */
  readonly Lock: typeof Lock;
  /** See {@linkcode RLock}. */
  readonly RLock: typeof RLock;
  /** See {@linkcode Semaphore}. */
  readonly Semaphore: typeof Semaphore;
  /** See {@linkcode BoundedSemaphore}. */
  readonly BoundedSemaphore: typeof BoundedSemaphore;
  /** See {@linkcode Event}. */
  readonly Event: typeof Event;
  /** See {@linkcode Condition}. */
  readonly Condition: typeof Condition;
  /** See {@linkcode Barrier}. */
  readonly Barrier: typeof Barrier;
  /** See {@linkcode Value}. */
  readonly Value: typeof Value;
  /** See {@linkcode SharedArray} (Python's `Array`). */
  readonly Array: typeof SharedArray;
  /** See {@linkcode SharedArray}. */
  readonly SharedArray: typeof SharedArray;
  /** See {@linkcode processModule.currentProcess}. */
  readonly currentProcess: typeof processModule.currentProcess;
  /** See {@linkcode processModule.parentProcess}. */
  readonly parentProcess: typeof processModule.parentProcess;
  /** See {@linkcode processModule.activeChildren}. */
  readonly activeChildren: typeof processModule.activeChildren;
  /** See {@linkcode processModule.cpuCount}. */
  readonly cpuCount: typeof processModule.cpuCount;
}

const contexts = new Map<Backend, Context>();

/**
 * Returns the API bound to `backend`: its `Process` starts children there
 * unless told otherwise.
 *
 * @param backend `"worker"` or `"subprocess"` (default: the start method,
 * `"worker"` unless `setStartMethod()` changed it).
 * @returns The context.
 * @throws {TypeError} When `backend` is unknown.
 *
 * @example
 * ```ts
 * import { getContext } from "@mp/multiprocessing/context";
 * import assert from "node:assert/strict";
 *
 * const mp = getContext("subprocess");
 * assert.equal(new mp.Process().backend, "subprocess");
 * const lock = new mp.Lock(); // primitives work with children of any backend
 * assert.equal(lock.locked(), false);
 * ```
 */
export function getContext(backend?: Backend): Context {
  backend ??= processModule.getStartMethod();
  let context = contexts.get(backend);
  if (!context) {
    launcherOf(backend);
    context = makeContext(backend);
    contexts.set(backend, context);
  }
  return context;
}

function makeContext(backend: Backend): Context {
  class BoundProcess<A extends unknown[] = unknown[]> extends Process<A> {
    constructor(options?: ProcessOptions<A> & ArgsOf<A>) {
      super({ backend, ...options } as ProcessOptions<A> & ArgsOf<A>);
    }
  }
  class BoundPool extends Pool {
    constructor(options: number | PoolOptions = {}) {
      super(
        typeof options === "number"
          ? { backend, processes: options }
          : { backend, ...options },
      );
    }
  }
  return {
    backend,
    Process: BoundProcess as typeof Process,
    Pool: BoundPool,
    Pipe,
    Connection,
    Queue,
    JoinableQueue,
    SimpleQueue,
    Lock,
    RLock,
    Semaphore,
    BoundedSemaphore,
    Event,
    Condition,
    Barrier,
    Value,
    Array: SharedArray,
    SharedArray,
    currentProcess: processModule.currentProcess,
    parentProcess: processModule.parentProcess,
    activeChildren: processModule.activeChildren,
    cpuCount: processModule.cpuCount,
  };
}
