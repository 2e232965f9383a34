// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Shared by the tests: which backends to run every cross-process test on.
import type { Backend } from "./process.ts";
import { Process, type ProcessOptions } from "./process.ts";

/**
 * The backends that each cross-process test runs on. A test file loops over
 * these so that the same assertions hold on every backend.
 */
export const BACKENDS: readonly Backend[] = ["worker", "subprocess"];

/**
 * Options for a test whose children share a raw `SharedArrayBuffer` with
 * it, which only Worker children can do (an OS process has its own memory;
 * the library's primitives cross into it as proxies, raw memory cannot):
 * the test is skipped on the other backends.
 */
export function sharesMemory(backend: Backend): { ignore: boolean } {
  return { ignore: backend !== "worker" };
}

/**
 * Starts a child running the export `name` of `module` on `backend`: the one
 * way the cross-process tests start their children.
 */
export function startChild(
  module: string | URL,
  backend: Backend,
  name: string,
  args: unknown[] = [],
  options: Omit<ProcessOptions, "target" | "args" | "backend"> = {},
): Process {
  const p = new Process({
    target: { module, export: name },
    args,
    backend,
    ...options,
  });
  p.start();
  return p;
}
