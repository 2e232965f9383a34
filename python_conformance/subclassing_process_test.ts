// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestSubclassingProcess, ported (see _util.ts for how).
//
// Not ported: test_stderr_flush (it replaces the child's sys.stderr by a
// file); and of test_sys_exit the first half, which reads the exit reasons
// (a list, a string) the child printed back from that file.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { exit } from "../process.ts";
import { UpperCaser } from "./_subclassing_process_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test({
    name: `${backend}: _TestSubclassingProcess.test_subclassing`,
    async fn() {
      await using _ = testScope();
      const uppercaser = new UpperCaser(backend);
      uppercaser.daemon = true;
      uppercaser.start();
      assert.equal(await uppercaser.submit("hello"), "HELLO");
      assert.equal(await uppercaser.submit("world"), "WORLD");
      uppercaser.stop();
      await uppercaser.join();
    },
  });

  Deno.test({
    name: `${backend}: _TestSubclassingProcess.test_sys_exit`,
    async fn() {
      await using _ = testScope();
      // `target=sys.exit`: the library's exit(), given what sys.exit was.
      const cases: [unknown[], number][] = [
        [[true], 1],
        [[false], 0],
        [[8], 8],
        [[null], 0],
        [[], 0],
      ];

      for (const [args, expected] of cases) {
        const p = new mp.Process({ target: exit, args: args as [number] });
        p.daemon = true;
        p.start();
        await p.join();
        assert.equal(p.exitCode, expected, `args=${JSON.stringify(args)}`);
      }
    },
  });
}
