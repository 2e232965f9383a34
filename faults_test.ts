// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The fault matrix: what a fault (a killed child, a dead parent, bad input,
// an unguarded module, load) may not cost. Each test's name is the contract
// it checks; each runs on every backend where the fault applies.
import assert from "node:assert/strict";
import { BACKENDS } from "./_test_util.ts";
import { ProcessError } from "./errors.ts";
import { Pool } from "./pool.ts";
import { activeChildren } from "./process.ts";

// §1 A child of an unguarded module gets a clear error.

// §2 A subprocess child ends with its parent, however busy.

// §3 A killed Worker child's library calls have no effect.

// §4 A call pending when its subprocess child dies is cancelled.

// §5 A dead pool worker takes no new work.

const POOL_TARGETS = new URL("./testdata/pool_targets.ts", import.meta.url);
const poolTask = (name: string) => ({ module: POOL_TARGETS, export: name });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The messages of the promises that rejected. */
function failures(results: PromiseSettledResult<unknown>[]): string[] {
  return results.flatMap((result) =>
    result.status === "rejected" ? [String(result.reason)] : []
  );
}

function poolWorkers() {
  return activeChildren().filter((child) =>
    child.name.startsWith("PoolWorker-")
  );
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a dead pool worker takes no new work; only the task it was running fails`, async () => {
    await using pool = new Pool({ backend, processes: 2 });
    // Tasks sent right behind the one that kills its worker race its
    // death: each round gives the race another chance.
    for (let round = 0; round < 6; round++) {
      const [dying, ...others] = await Promise.allSettled([
        pool.apply(poolTask("dieWith"), [7]),
        ...range(50).map((x) => pool.apply(poolTask("inc"), [x])),
      ]);
      assert.equal(dying.status, "rejected");
      assert.ok(dying.reason instanceof ProcessError);
      assert.match(
        dying.reason.message,
        /^Pool worker PoolWorker-\d+ \(pid \d+\) ended with exit code 7 while running this task/,
      );
      assert.deepEqual(failures(others), []);
      assert.deepEqual(
        others.map((result) =>
          (result as PromiseFulfilledResult<number>).value
        ),
        range(50).map((x) => x + 1),
      );
    }
  });

  Deno.test(`${backend}: a pool worker killed while idle costs no task; its tasks run on its replacement`, async () => {
    await using pool = new Pool({ backend, processes: 1 });
    for (let round = 0; round < 5; round++) {
      const [worker] = poolWorkers();
      await pool.apply(poolTask("inc"), [0]); // It is ready, and idle.
      worker.kill();
      const results = await Promise.allSettled(
        range(20).map((x) => pool.apply(poolTask("pidOf"), [x])),
      );
      assert.deepEqual(failures(results), []);
      const pids = results.map((result) =>
        (result as PromiseFulfilledResult<number>).value
      );
      assert.ok(!pids.includes(worker.pid!), "a task ran on the killed worker");
      assert.equal(new Set(pids).size, 1);
      await worker.join();
    }
  });
}

// §6 Timeouts of any length.

// §7 Deno.exitCode is the child's exit code.

// §8 No temporary directory is left behind.

// §9 Python's habits.

// §10 Messages that say what to do.

// §11 No library call stalls the event loop.

Deno.test("the fault matrix runs on every backend", () => {
  assert.deepEqual([...BACKENDS].sort(), ["subprocess", "worker"]);
});
