// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Python's `multiprocessing` for Deno: child processes on Workers or
 * subprocesses, pipes and queues between them, locks and shared memory.
 *
 * ```ts
 * import { Process } from "@mp/multiprocessing";
 *
 * export function display(name: string) {
 *   console.log("Hi !!! " + name);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: display, args: ["Python"] });
 *   p.start();
 *   await p.join();
 * }
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./process.ts";
export * from "./context.ts";
export * from "./lock.ts";
export * from "./semaphore.ts";
export * from "./event.ts";
export * from "./condition.ts";
export * from "./barrier.ts";
export * from "./shared.ts";
export * from "./pipe.ts";
export * from "./queue.ts";
export * from "./pool.ts";
export * from "./subprocess.ts";
export * from "./futures.ts";
