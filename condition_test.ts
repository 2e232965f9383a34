// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { Condition } from "./condition.ts";
import { Lock, RLock } from "./lock.ts";
import { Semaphore } from "./semaphore.ts";
import { SharedArray, Value } from "./shared.ts";
import { BACKENDS, SUBPROCESS_PRIMITIVES } from "./_test_util.ts";
import { child, joinAll } from "./testdata/sync_helpers.ts";

/** Acquires `sem` n times. */
async function take(sem: Semaphore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal(await sem.acquire(), true);
}

Deno.test("Condition: wait and notify need the lock (RangeError)", async () => {
  const cond = new Condition();
  await assert.rejects(cond.wait(), RangeError);
  assert.throws(() => cond.waitSync(), RangeError);
  assert.throws(() => cond.notify(), RangeError);
  assert.throws(() => cond.notifyAll(), RangeError);
  await assert.rejects(cond.waitFor(() => false), RangeError);
  assert.throws(() => cond.release(), RangeError);
  assert.throws(() => new Condition({} as Lock), TypeError);
});

Deno.test("Condition: timed waits return false, waitFor the predicate", async () => {
  const cond = new Condition(new Lock());
  using _ = await cond.hold();
  assert.equal(await cond.wait(10), false);
  assert.equal(cond.waitSync(10), false);
  assert.equal(await cond.waitFor(() => true), true);
  assert.equal(await cond.waitFor(() => false, 10), false);
  assert.equal(cond.waitForSync(() => false, 10), false);
  assert.equal(await cond.waitFor(() => Promise.resolve(true), 0), true);
  await assert.rejects(cond.wait(-1), RangeError);
  cond.notify(0);
  assert.throws(() => cond.notify(-1), RangeError);
});

Deno.test("Condition: wait over an RLock held twice restores both levels", async () => {
  const lock = new RLock();
  const cond = new Condition(lock);
  await cond.acquire();
  await cond.acquire();
  assert.equal(await cond.wait(5), false);
  cond.release();
  assert.equal(lock.locked(), true);
  cond.release();
  assert.equal(lock.locked(), false);
});

Deno.test("Condition: an async waiter in this process is notified", async () => {
  const cond = new Condition();
  let ready = false;
  const waiter = (async () => {
    using _ = await cond.hold();
    return await cond.waitFor(() => ready);
  })();
  {
    using _ = await cond.hold(); // a Lock: waits until the waiter waits
    ready = true;
    cond.notifyAll();
  }
  assert.equal(await waiter, true);
});

for (const backend of BACKENDS) {
  Deno.test(`Condition: notify(1) wakes one child, notifyAll the rest (${backend})`, async () => {
    const cond = new Condition();
    const arrived = new Semaphore(0);
    const woken = new Semaphore(0);
    const children = [false, true, false].map((sync) =>
      child(backend, "waitOnce", [cond, arrived, woken, sync])
    );
    await take(arrived, 3);
    {
      // Taking the lock after all three arrived: all three now wait.
      using _ = await cond.hold();
      cond.notify();
    }
    await take(woken, 1);
    assert.equal(woken.getValue(), 0);
    {
      using _ = await cond.hold();
      cond.notifyAll();
    }
    await take(woken, 2);
    await joinAll(children);
  });

  Deno.test({
    name: `Condition: waitFor a Value another child raises (${backend})`,
    // Behind the proxy a subprocess child's Condition runs its calls in the
    // parent, and a predicate (a function) cannot be sent there.
    ignore: backend === "subprocess" && SUBPROCESS_PRIMITIVES === "proxy",
  }, async () => {
    const cond = new Condition();
    const value = new Value("i32", 0);
    const seen = new SharedArray("i32", 1);
    const waiter = child(backend, "waitForValue", [cond, value, 3, seen]);
    const raiser = child(backend, "raiseValue", [cond, value, 3]);
    await joinAll([waiter, raiser]);
    assert.equal(seen[0], 1);
    assert.equal(value.value, 3);
  });

  Deno.test(`Condition: a notification is not spent on a waiter that ended (${backend})`, async () => {
    const cond = new Condition();
    const arrived = new Semaphore(0);
    const woken = new Semaphore(0);
    const dead = child(backend, "waitOnce", [cond, arrived, woken, false]);
    await take(arrived, 1);
    dead.terminate();
    await dead.join();
    const live = child(backend, "waitOnce", [cond, arrived, woken, true]);
    await take(arrived, 1);
    {
      using _ = await cond.hold();
      cond.notify(1);
    }
    // Generous bound only so that a failure ends.
    assert.equal(await woken.acquire({ timeout: 10_000 }), true);
    await joinAll([live]);
  });

  Deno.test(`Condition: notify without the lock throws in a child (${backend})`, async () => {
    const cond = new Condition();
    const p = child(backend, "notifyUnheld", [cond]);
    assert.equal(await p.join(), 1);
    assert.equal(p.error?.name, "RangeError");
  });
}
