// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { Barrier } from "./barrier.ts";
import { BrokenBarrierError } from "./errors.ts";
import { SharedArray, Value } from "./shared.ts";
import { BACKENDS } from "./_test_util.ts";
import { TARGETS } from "./testdata/sync_targets.ts";
import { child, joinAll } from "./testdata/sync_helpers.ts";

/** Waits until `n` parties wait at the barrier (it has no event for that). */
async function waitingParties(barrier: Barrier, n: number): Promise<void> {
  while (barrier.nWaiting < n) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("Barrier: properties and bad arguments", () => {
  const barrier = new Barrier(3, { timeout: 100 });
  assert.equal(barrier.parties, 3);
  assert.equal(barrier.nWaiting, 0);
  assert.equal(barrier.broken, false);
  assert.throws(() => new Barrier(0), RangeError);
  assert.throws(() => new Barrier(1.5), RangeError);
  assert.throws(() => new Barrier(2, { timeout: -1 }), RangeError);
  assert.throws(
    () => new Barrier(2, { action: 42 as unknown as () => void }),
    TypeError,
  );
});

Deno.test("Barrier: one party passes at once; rounds repeat", async () => {
  const barrier = new Barrier(1);
  assert.equal(await barrier.wait(), 0);
  assert.equal(barrier.waitSync(), 0);
  assert.equal(await barrier.wait(), 0);
});

Deno.test("Barrier: the action runs once per round, by the last party", async () => {
  let runs = 0;
  const barrier = new Barrier(3, { action: () => runs++ });
  for (let round = 1; round <= 2; round++) {
    const indexes = await Promise.all([
      barrier.wait(),
      barrier.wait(),
      barrier.wait(),
    ]);
    assert.deepEqual(indexes.sort(), [0, 1, 2]);
    assert.equal(runs, round);
  }
});

Deno.test("Barrier: an action that throws breaks the barrier", async () => {
  const barrier = new Barrier(2, {
    action: () => {
      throw new Error("action failed");
    },
  });
  const results = await Promise.allSettled([barrier.wait(), barrier.wait()]);
  const reasons = results.map((r) => (r as PromiseRejectedResult).reason);
  assert.ok(reasons.some((e) => e instanceof BrokenBarrierError));
  assert.ok(reasons.some((e) => e?.message === "action failed"));
  assert.equal(barrier.broken, true);
});

Deno.test("Barrier: a timeout breaks it; reset repairs it", async () => {
  const barrier = new Barrier(2);
  await assert.rejects(barrier.wait(10), BrokenBarrierError);
  assert.equal(barrier.broken, true);
  await assert.rejects(barrier.wait(), BrokenBarrierError);
  assert.throws(() => barrier.waitSync(), BrokenBarrierError);
  barrier.reset();
  assert.equal(barrier.broken, false);
  const both = await Promise.all([barrier.wait(), barrier.wait()]);
  assert.deepEqual(both.sort(), [0, 1]);
  assert.throws(() => barrier.waitSync(10), BrokenBarrierError);
  await assert.rejects(barrier.wait(-1), RangeError);
});

Deno.test("Barrier: reset while parties wait breaks their wait", async () => {
  const barrier = new Barrier(3);
  const waiting = [barrier.wait(), barrier.wait()];
  await waitingParties(barrier, 2);
  barrier.reset();
  for (const w of waiting) await assert.rejects(w, BrokenBarrierError);
  assert.equal(barrier.broken, false);
  assert.equal(barrier.nWaiting, 0);
});

for (const backend of BACKENDS) {
  Deno.test(`Barrier: children get distinct indexes (${backend})`, async () => {
    const barrier = new Barrier(3);
    const indexes = new SharedArray("i32", [9, 9, 9]);
    const children = [
      child(backend, "waitAtBarrier", [barrier, indexes, 0]),
      child(backend, "waitAtBarrierSync", [barrier, indexes, 1]),
      child(backend, "waitAtBarrier", [barrier, indexes, 2]),
    ];
    await joinAll(children);
    assert.deepEqual(indexes.toArray().sort(), [0, 1, 2]);
    assert.equal(barrier.broken, false);
  });

  Deno.test(`Barrier: the action runs once, in the last child to arrive (${backend})`, async () => {
    const runs = new Value("i32", 0);
    const barrier = new Barrier(3, {
      action: { module: TARGETS, export: "countAction" },
    });
    const indexes = new SharedArray("i32", [9, 9, 9]);
    const children = [0, 1, 2].map((i) =>
      child(backend, "waitAtBarrier", [barrier, indexes, i, runs])
    );
    await joinAll(children);
    assert.deepEqual(indexes.toArray().sort(), [0, 1, 2]);
    assert.equal(runs.value, 1);
  });

  for (const grandchild of BACKENDS) {
    Deno.test(`Barrier: a ${backend} child passes it on to a ${grandchild} grandchild`, async () => {
      const runs = new Value("i32", 0);
      const barrier = new Barrier(3, {
        action: { module: TARGETS, export: "countAction" },
      });
      const indexes = new SharedArray("i32", [9, 9, 9]);
      await joinAll([
        child(backend, "waitAtBarrierWithGrandchild", [
          barrier,
          indexes,
          1,
          runs,
          grandchild,
        ]),
        child(backend, "waitAtBarrier", [barrier, indexes, 0, runs]),
      ]);
      assert.deepEqual(indexes.toArray().sort(), [0, 1, 2]);
      assert.equal(runs.value, 1);
      assert.equal(barrier.broken, false);
    });
  }

  Deno.test(`Barrier: an action that throws in the last child breaks the barrier (${backend})`, async () => {
    const barrier = new Barrier(2, {
      action: { module: TARGETS, export: "countAction" },
    });
    const indexes = new SharedArray("i32", [9, 9]);
    // Given no Value to count in, countAction throws in the last child.
    const children = [0, 1].map((i) =>
      child(backend, "waitAtBarrier", [barrier, indexes, i])
    );
    const codes = await Promise.all(children.map((p) => p.join()));
    assert.deepEqual(codes.sort(), [0, 1]);
    const last = children.find((p) => p.exitCode === 1)!;
    assert.equal(last.error?.name, "TypeError");
    assert.deepEqual(indexes.toArray().sort(), [-1, 9]);
    assert.equal(barrier.broken, true);
  });

  Deno.test(`Barrier: abort breaks children's waits; reset makes it usable (${backend})`, async () => {
    const barrier = new Barrier(3);
    const indexes = new SharedArray("i32", [9, 9, 9]);
    const waiting = [
      child(backend, "waitAtBarrier", [barrier, indexes, 0]),
      child(backend, "waitAtBarrierSync", [barrier, indexes, 1]),
    ];
    await waitingParties(barrier, 2);
    barrier.abort();
    await joinAll(waiting);
    assert.deepEqual(indexes.toArray(), [-1, -1, 9]);
    assert.equal(barrier.broken, true);

    barrier.reset();
    assert.equal(barrier.broken, false);
    const again = [0, 1, 2].map((i) =>
      child(backend, "waitAtBarrier", [barrier, indexes, i])
    );
    await joinAll(again);
    assert.deepEqual(indexes.toArray().sort(), [0, 1, 2]);
  });

  Deno.test(`Barrier: a child's timeout breaks it for everyone (${backend})`, async () => {
    const barrier = new Barrier(3);
    const indexes = new SharedArray("i32", [9, 9]);
    await joinAll([
      child(backend, "waitAtBarrier", [barrier, indexes, 0, undefined, 20]),
    ]);
    assert.equal(indexes[0], -1);
    assert.equal(barrier.broken, true);
    await assert.rejects(barrier.wait(), BrokenBarrierError);
  });

  Deno.test(`Barrier: a party that ends while waiting breaks it (${backend})`, async () => {
    const barrier = new Barrier(3);
    const indexes = new SharedArray("i32", [9, 9]);
    const doomed = child(backend, "waitAtBarrier", [barrier, indexes, 0]);
    await waitingParties(barrier, 1);
    doomed.terminate();
    await doomed.join();
    const next = child(backend, "waitAtBarrier", [barrier, indexes, 1]);
    await joinAll([next]);
    assert.equal(indexes[1], -1);
    assert.equal(barrier.broken, true);
    barrier.reset();
    assert.equal(barrier.nWaiting, 0);
    assert.equal(barrier.broken, false);
  });
}
