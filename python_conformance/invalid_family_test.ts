// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestInvalidFamily (issue 14151), ported for the Listener of
// connection.ts (see _util.ts for how). CPython runs it once; here once
// per backend, although it starts no process, so that every class counts
// on both.
//
// Not ported: test_invalid_family_win32, which CPython runs on Windows
// only (a Unix socket path refused there) and is not one of the tests
// counted for this class.
import assert from "node:assert/strict";
import { Listener } from "../connection.ts";
import { BACKENDS } from "./_util.ts";

for (const backend of BACKENDS) {
  Deno.test(`${backend}: TestInvalidFamily.test_invalid_family`, () => {
    // A Windows named pipe. Python's ValueError (a family it does not
    // serve) is the TypeError the Listener throws for any address it
    // cannot use.
    assert.throws(() => new Listener(String.raw`\\.\test`), TypeError);
  });
}
