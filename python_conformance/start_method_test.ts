// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestStartMethod, ported (see _util.ts for how). CPython runs it
// in the test module of each start method, with that method as default;
// here once per backend, with that backend as default. The start methods
// it tries ('fork', 'spawn', 'forkserver') are the backends here.
//
// Not ported: test_context_check_module_types and test_preload_resources
// (the forkserver), test_get_all_start_methods (the platform's start
// methods), test_mixed_startmethod (fork-made locks), and of test_set_get
// the checks of Python's class names (ForkContext, ForkProcess).
import assert from "node:assert/strict";
import { type Context, getContext } from "../context.ts";
import * as multiprocessing from "../mod.ts";
import { getStartMethod, Process, setStartMethod } from "../process.ts";
import { Queue } from "../queue.ts";
import { checkContext, putTwoAndNestOnce } from "./_misc_targets.ts";
import { BACKENDS, testScope, withStartMethod } from "./_util.ts";

const METHODS = ["worker", "subprocess"] as const;

/** `check_context(ctx)`: a child reports its start method. */
async function checkContextOf(
  ctx: Pick<Context, "Pipe" | "Process">,
  expected: string,
): Promise<void> {
  const [r, w] = ctx.Pipe({ duplex: false });
  const p = new ctx.Process({ target: checkContext, args: [w] });
  p.start();
  w.close();
  const childMethod = await r.recv();
  r.close();
  await p.join();
  assert.equal(childMethod, expected);
}

for (const backend of BACKENDS) {
  Deno.test({
    name: `${backend}: TestStartMethod.test_context`,
    async fn() {
      await using _ = testScope();
      await withStartMethod(backend, async () => {
        for (const method of METHODS) {
          const ctx = getContext(method);
          assert.equal(ctx.backend, method); // ctx.get_start_method()
          assert.equal(getContext(method), ctx); // ctx.get_context() is ctx
          // ctx.set_start_method() raises ValueError: a context's method
          // cannot change, it has no setStartMethod.
          assert.equal("setStartMethod" in ctx, false);
          await checkContextOf(ctx, ctx.backend);
        }
      });
    },
  });

  Deno.test({
    name: `${backend}: TestStartMethod.test_set_get`,
    async fn() {
      await using _ = testScope();
      await withStartMethod(backend, async () => {
        let count = 0;
        const oldMethod = getStartMethod();
        try {
          for (const method of METHODS) {
            setStartMethod(method);
            assert.equal(getStartMethod(), method);
            const ctx = getContext();
            assert.equal(ctx.backend, method);
            await checkContextOf(multiprocessing, method);
            count += 1;
          }
        } finally {
          setStartMethod(oldMethod);
        }
        assert.ok(count >= 1);
      });
    },
  });

  Deno.test(`${backend}: TestStartMethod.test_nested_startmethod`, async () => {
    await using _ = testScope();
    await withStartMethod(backend, async () => {
      // gh-108520: Regression test to ensure that child process can send its
      // arguments to another process
      const queue = new Queue();

      const process = new Process({ target: putTwoAndNestOnce, args: [queue] });
      process.start();
      await process.join();

      const results = [];
      while (!queue.empty()) results.push(await queue.get());

      // gh-109706: queue.put(1) can write into the queue before queue.put(2),
      // there is no synchronization in the test.
      assert.deepEqual(new Set(results), new Set([2, 1]));
    });
  });
}
