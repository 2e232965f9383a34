// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestPoolWorkerLifetime, ported (see _util.ts for how).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { sqr } from "./_pool_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  // CPython uses multiprocessing.Pool, under the start method it tests.
  const mp = getContext(backend);

  // CPython reads the workers' pids from the private `p._pool`; here the
  // pool's workers are the children activeChildren() lists.
  Deno.test(
    `${backend}: _TestPoolWorkerLifetime.test_pool_worker_lifetime`,
    async () => {
      await using _ = testScope();
      const p = new mp.Pool({ processes: 3, maxTasksPerChild: 10 });
      assert.equal(3, p.processes);
      const origworkerpids = mp.activeChildren().map((w) => w.pid);
      // Run many tasks so each worker gets replaced (hopefully)
      const results = [];
      for (let i = 0; i < 100; i++) results.push(p.applyAsync(sqr, [i]));
      // Fetch the results and verify we got the right answers, also
      // ensuring all the tasks have completed.
      for (const [j, res] of results.entries()) {
        assert.equal(await res, sqr(j));
      }
      // CPython refills the pool (the private _repopulate_pool()) and polls
      // until every worker is alive: the children listed are alive.
      const finalworkerpids = mp.activeChildren().map((w) => w.pid);
      // All pids should be assigned.  See issue #7805.
      assert.ok(!origworkerpids.includes(undefined));
      assert.ok(!finalworkerpids.includes(undefined));
      // Finally, check that the worker pids have changed
      assert.notDeepEqual(
        [...origworkerpids].sort(),
        [...finalworkerpids].sort(),
      );
      p.close();
      await p.join();
    },
  );

  Deno.test(
    `${backend}: _TestPoolWorkerLifetime.test_pool_worker_lifetime_early_close`,
    async () => {
      await using _ = testScope();
      // Issue #10332: closing a pool whose workers have limited lifetimes
      // before all the tasks completed would make join() hang.
      const p = new mp.Pool({ processes: 3, maxTasksPerChild: 1 });
      const results = [];
      for (let i = 0; i < 6; i++) results.push(p.applyAsync(sqr, [i, 300]));
      p.close();
      await p.join();
      // check the results
      for (const [j, res] of results.entries()) {
        assert.equal(await res, sqr(j));
      }
    },
  );

  Deno.test(
    `${backend}: _TestPoolWorkerLifetime.test_pool_maxtasksperchild_invalid`,
    () => {
      for (const value of [0, -1, 0.5, "12"]) {
        assert.throws(
          () =>
            new mp.Pool({ processes: 3, maxTasksPerChild: value as number }),
          RangeError,
        );
      }
    },
  );

  Deno.test(
    `${backend}: _TestPoolWorkerLifetime.test_worker_finalization_via_atexit_handler_of_multiprocessing`,
    async () => {
      // tests cases against bpo-38744 and bpo-39360: a program whose pool
      // is never closed still ends, and with 0
      const script = new URL("./_pool_left_open.ts", import.meta.url);
      const { code } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", script.pathname, backend],
        stdout: "null",
        stderr: "inherit",
      }).output();
      assert.equal(code, 0);
    },
  );
}
