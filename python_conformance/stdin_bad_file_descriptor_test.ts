// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestStdinBadfiledescriptor (issues 5155, 5313, 5331: processes
// in processes), ported (see _util.ts for how), once per backend as the
// default start method. CPython only checks that nothing breaks; the port
// also checks the child's exit code.
//
// Not ported: test_flushing (a Python file-like object).
import assert from "node:assert/strict";
import { Process } from "../process.ts";
import { poolInProcess, testProcess } from "./_misc_targets.ts";
import { BACKENDS, testScope, withStartMethod } from "./_util.ts";

for (const backend of BACKENDS) {
  Deno.test(
    `${backend}: TestStdinBadfiledescriptor.test_queue_in_process`,
    async () => {
      await using _ = testScope();
      await withStartMethod(backend, async () => {
        const proc = new Process({ target: testProcess });
        proc.start();
        await proc.join();
        assert.equal(proc.exitCode, 0);
      });
    },
  );

  Deno.test(
    `${backend}: TestStdinBadfiledescriptor.test_pool_in_process`,
    async () => {
      await using _ = testScope();
      await withStartMethod(backend, async () => {
        const p = new Process({ target: poolInProcess });
        p.start();
        await p.join();
        assert.equal(p.exitCode, 0);
      });
    },
  );
}
