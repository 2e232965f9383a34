// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's MiscTestCase, ported (see _util.ts for how). CPython runs
// test_large_pool as a script under the default start method; here the
// pool runs in the test, once per backend.
//
// Not ported: test__all__ (Python's __all__) and
// test_spawn_sys_executable_none_allows_import (sys.executable).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { f } from "./_pool_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test({
    name: `${backend}: MiscTestCase.test_large_pool`,
    // Passes, but too slow to run with the others: starting 200 pool workers
    // took 3 min 52 s on Workers and 2 min 37 s (about 5 GB) on subprocesses,
    // on this 2-core machine under load (Python with fork: about 1 s).
    ignore: true,
    async fn() {
      await using _ = testScope();
      // gh-89240: Check that large pools are always okay
      await using p = new mp.Pool({ processes: 200 });
      const results = await p.map(f, Array.from({ length: 1000 }, (_, i) => i));
      assert.equal(results.reduce((a, b) => a + b, 0), 332833500);
    },
  });
}
