// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestNoForkBomb, ported (see _util.ts for how): its spawn case,
// run once per backend as the start method (there is no fork here).
import assert from "node:assert/strict";
import { ProgramRun } from "../_test_util.ts";
import { BACKENDS } from "./_util.ts";

const FORK_BOMB = new URL("./_fork_bomb.ts", import.meta.url);

for (const backend of BACKENDS) {
  Deno.test(`${backend}: TestNoForkBomb.test_noforkbomb`, async () => {
    // test.support.script_helper.assert_python_failure(name, sm)
    await using program = new ProgramRun(FORK_BOMB, [backend]);
    const status = await program.status(60_000);
    assert.ok(status, "the program ended by itself");
    assert.notEqual(status.code, 0);
    assert.equal(await program.line(), null); // out == b''
    assert.match(await program.stderr(), /ProcessError/); // b'RuntimeError'
  });
}
