// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Shared by the tests of the synchronization primitives: start a child on
// a target of sync_targets.ts, and join children expecting success.
import assert from "node:assert/strict";
import { startChild } from "../_test_util.ts";
import type { Backend, Process } from "../process.ts";
import { TARGETS } from "./sync_targets.ts";

/** Starts a child on `backend` running the target `name` with `args`. */
export function child(
  backend: Backend,
  name: string,
  args: unknown[],
): Process {
  return startChild(TARGETS, backend, name, args);
}

/** Joins every child, then fails with the first one that did not succeed. */
export async function joinAll(children: Process[]): Promise<void> {
  await Promise.all(children.map((p) => p.join()));
  for (const p of children) {
    assert.equal(p.exitCode, 0, p.error?.stack ?? `${p.name} failed`);
  }
}
