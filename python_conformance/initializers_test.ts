// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestInitializers (issue 5585: the initializer of
// Manager.start() and of Pool), ported (see _util.ts for how). CPython runs
// it once, with its default start method; here once per backend, which
// starts the pool's workers (a manager's server is a Worker on both).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { Manager, type NamespaceProxy } from "../manager.ts";
import { initializer } from "./_manager_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

/** setUp and tearDown: a manager, and a Namespace with `test = 0`. */
async function setUp(): Promise<
  { ns: NamespaceProxy } & AsyncDisposable
> {
  const scope = testScope();
  const mgr = new Manager();
  await mgr.start();
  const ns = await mgr.Namespace();
  await ns.set("test", 0);
  return {
    ns,
    async [Symbol.asyncDispose]() {
      try {
        await scope[Symbol.asyncDispose]();
      } finally {
        await mgr.shutdown();
      }
    },
  };
}

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(
    `${backend}: TestInitializers.test_manager_initializer`,
    async () => {
      await using t = await setUp();
      const m = new Manager();
      try {
        await assert.rejects(m.start(1 as never), TypeError);
        await m.start(initializer, [t.ns]);
        assert.equal(await t.ns.get("test"), 1);
      } finally {
        await m.shutdown();
      }
    },
  );

  Deno.test(`${backend}: TestInitializers.test_pool_initializer`, async () => {
    await using t = await setUp();
    assert.throws(() => new mp.Pool({ initializer: 1 as never }), TypeError);
    const p = new mp.Pool({
      processes: 1,
      initializer,
      initArgs: [t.ns],
    });
    p.close();
    await p.join();
    assert.equal(await t.ns.get("test"), 1);
  });
}
