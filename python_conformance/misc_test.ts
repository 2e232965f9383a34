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
    // A pool starts its workers a few at a time (each ready one starts the
    // next), so this map of 1000 cheap items ends in about 2 s on either
    // backend, maybe before all 200 have started. Started all at once, as
    // before, they took minutes on this 2-core machine under load.
    async fn() {
      await using _ = testScope();
      // gh-89240: Check that large pools are always okay
      await using p = new mp.Pool({ processes: 200 });
      const results = await p.map(f, Array.from({ length: 1000 }, (_, i) => i));
      assert.equal(results.reduce((a, b) => a + b, 0), 332833500);
    },
  });
}
