// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestPoll, ported (see _util.ts for how).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import {
  childBoundaries,
  childDontMerge,
  childStrings,
} from "./_connection_targets.ts";
import { BACKENDS, latin, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(`${backend}: _TestPoll.test_empty_string`, async () => {
    const [a, b] = mp.Pipe();
    assert.equal(await a.poll(), false);
    b.sendBytes(latin(""));
    assert.equal(await a.poll(), true);
    assert.equal(await a.poll(), true);
    a.close();
    b.close();
  });

  Deno.test(`${backend}: _TestPoll.test_strings`, async () => {
    await using _ = testScope();
    const strings = ["hello", "", "a", "b", "", "bye", "", "lop"].map(latin);
    const [a, b] = mp.Pipe();
    const p = new mp.Process({ target: childStrings, args: [b, strings] });
    p.start();

    for (const s of strings) {
      for (let i = 0; i < 200; i++) {
        if (await a.poll(10)) break;
      }
      const x = await a.recvBytes();
      assert.deepEqual(s, x);
    }

    await p.join();
    a.close();
  });

  Deno.test({
    name: `${backend}: _TestPoll.test_boundaries`,
    async fn() {
      await using _ = testScope();
      const [r, w] = mp.Pipe({ duplex: false });
      const p = new mp.Process({ target: childBoundaries, args: [r] });
      p.start();
      // CPython sleeps 2 s here, for the child to be polling when the
      // messages come: dropped (a settling sleep).
      const L = [latin("first"), latin("second")];
      for (const obj of L) w.sendBytes(obj);
      w.close();
      await p.join();
      const got = await r.recvBytes();
      assert.ok(L.some((x) => x.join() === got.join()), `${got} in L`);
    },
  });

  Deno.test(`${backend}: _TestPoll.test_dont_merge`, async () => {
    await using _ = testScope();
    const [a, b] = mp.Pipe();
    assert.equal(await a.poll(0), false);
    assert.equal(await a.poll(100), false);

    const p = new mp.Process({ target: childDontMerge, args: [b] });
    p.start();

    assert.deepEqual(await a.recvBytes(), latin("a"));
    assert.equal(await a.poll(1000), true);
    assert.equal(await a.poll(1000), true);
    assert.deepEqual(await a.recvBytes(), latin("b"));
    assert.equal(await a.poll(1000), true);
    assert.equal(await a.poll(1000), true);
    assert.equal(await a.poll(0), true);
    assert.deepEqual(await a.recvBytes(), latin("cd"));

    await p.join();
    a.close();
  });
}
