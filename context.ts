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
import { internalModule } from "./_target.ts";
import type { Backend } from "./_wire.ts";
import * as processModule from "./process.ts";
import { Process, type ProcessOptions } from "./process.ts";

internalModule(import.meta.url);

/** The API of this library with `Process` bound to one backend. */
export interface Context {
  /** The backend this context starts children on. */
  readonly backend: Backend;
  /** `Process` whose `backend` defaults to this context's. */
  readonly Process: typeof Process;
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
 * @param backend `"worker"` (default) or `"subprocess"`.
 * @returns The context.
 * @throws {TypeError} When `backend` is unknown.
 *
 * @example
 * ```ts
 * import { getContext } from "@mp/multiprocessing/context";
 * import assert from "node:assert/strict";
 *
 * const mp = getContext("worker");
 * assert.equal(new mp.Process().backend, "worker");
 * ```
 */
export function getContext(
  backend: Backend = processModule.getStartMethod(),
): Context {
  let context = contexts.get(backend);
  if (!context) {
    if (backend !== "worker" && backend !== "subprocess") {
      throw new TypeError(
        `Unknown backend ${
          JSON.stringify(backend)
        }: use "worker" or "subprocess"`,
      );
    }
    context = makeContext(backend);
    contexts.set(backend, context);
  }
  return context;
}

function makeContext(backend: Backend): Context {
  class BoundProcess<A extends unknown[] = unknown[]> extends Process<A> {
    constructor(options: ProcessOptions<A> = {}) {
      super({ backend, ...options });
    }
  }
  return {
    backend,
    Process: BoundProcess as typeof Process,
    currentProcess: processModule.currentProcess,
    parentProcess: processModule.parentProcess,
    activeChildren: processModule.activeChildren,
    cpuCount: processModule.cpuCount,
  };
}
