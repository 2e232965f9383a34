// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { Barrier } from "./barrier.ts";
import { Event } from "./event.ts";
import { Lock, RLock } from "./lock.ts";
import { Process } from "./process.ts";
import { SharedArray } from "./shared.ts";
import { ProcessError, TimeoutError } from "./errors.ts";
import { BACKENDS } from "./_test_util.ts";
import { TARGETS } from "./testdata/sync_targets.ts";
import { child, joinAll } from "./testdata/sync_helpers.ts";

/** A shared int for children's results, on any backend. */
function counter(): SharedArray<"i32"> {
  return new SharedArray("i32", 1);
}

Deno.test("Lock: acquire, release, locked, and non-blocking tries", async () => {
  const lock = new Lock();
  assert.equal(lock.locked(), false);
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.locked(), true);
  assert.equal(await lock.acquire({ blocking: false }), false);
  assert.equal(lock.acquireSync({ blocking: false }), false);
  assert.equal(await lock.acquire({ timeout: 0 }), false);
  assert.equal(await lock.acquire({ timeout: 20 }), false);
  assert.equal(lock.acquireSync({ timeout: 20 }), false);
  lock.release();
  assert.equal(lock.locked(), false);
  assert.equal(lock.acquireSync(), true);
  lock.release();
});

Deno.test("Lock: releasing an unheld lock throws RangeError", () => {
  const lock = new Lock();
  assert.throws(() => lock.release(), RangeError);
  lock.acquireSync();
  lock.release();
  assert.throws(() => lock.release(), RangeError);
});

Deno.test("Lock: bad options throw", async () => {
  const lock = new Lock();
  await assert.rejects(
    async () => await lock.acquire({ timeout: -1 }),
    RangeError,
  );
  assert.throws(() => lock.acquireSync({ timeout: NaN }), RangeError);
  assert.equal(lock.locked(), false);
});

Deno.test("Lock: a non-blocking acquire ignores its timeout, as Python's", async () => {
  const lock = new Lock();
  assert.equal(lock.acquireSync({ blocking: false, timeout: 5 }), true);
  assert.equal(lock.acquireSync({ blocking: false, timeout: -1 }), false);
  assert.equal(await lock.acquire({ blocking: false, timeout: 5 }), false);
  lock.release();
  assert.equal(await lock.acquire({ blocking: false, timeout: 5 }), true);
  lock.release();
});

Deno.test("Lock: using releases at the end of the scope", async () => {
  const lock = new Lock();
  {
    using _ = await lock.hold();
    assert.equal(lock.locked(), true);
  }
  assert.equal(lock.locked(), false);
  {
    using _ = lock.holdSync();
    assert.equal(lock.locked(), true);
    await assert.rejects(lock.hold({ timeout: 10 }), TimeoutError);
    assert.throws(() => lock.holdSync({ timeout: 10 }), TimeoutError);
  }
  assert.equal(lock.locked(), false);
  {
    lock.acquireSync();
    using _held = lock;
  }
  assert.equal(lock.locked(), false);
  // A hold releases once, even when disposed twice.
  const hold = lock.holdSync();
  hold[Symbol.dispose]();
  hold[Symbol.dispose]();
  assert.equal(lock.locked(), false);
});

Deno.test("Lock: an async waiter gets the lock when it is released", async () => {
  const lock = new Lock();
  await lock.acquire();
  let got = false;
  const waiter = lock.acquire().then((ok) => got = ok);
  await Promise.resolve();
  assert.equal(got, false);
  lock.release();
  await waiter;
  assert.equal(got, true);
  lock.release();
});

Deno.test("Lock: acquireSync refuses to wait forever on this process's own hold", async () => {
  const lock = new Lock();
  await lock.acquire();
  assert.throws(() => lock.acquireSync(), ProcessError);
  assert.equal(lock.acquireSync({ timeout: 1 }), false);
  lock.release();
});

Deno.test("RLock: re-entrant, counted, owner-checked", async () => {
  const lock = new RLock();
  assert.throws(() => lock.release(), RangeError);
  assert.equal(lock.acquireSync(), true);
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.acquireSync({ blocking: false }), true);
  lock.release();
  lock.release();
  assert.equal(lock.locked(), true);
  lock.release();
  assert.equal(lock.locked(), false);
  {
    using _a = await lock.hold();
    using _b = lock.holdSync();
    assert.equal(lock.locked(), true);
  }
  assert.equal(lock.locked(), false);
});

for (const backend of BACKENDS) {
  for (const Kind of [Lock, RLock]) {
    Deno.test(`${Kind.name}: 4 children increment a counter exactly under it (${backend})`, async () => {
      const times = 300;
      // The control: the same slow read-modify-write with no lock. It loses
      // increments when children overlap; shown, not asserted (it need not).
      const raw = counter();
      const start = new Barrier(4);
      await joinAll(
        [0, 1, 2, 3].map(() =>
          child(backend, "incrementUnlocked", [raw, times, start])
        ),
      );
      assert.ok(raw[0] <= 4 * times);
      console.log(
        `  without a lock: ${raw[0]} of ${4 * times} increments kept`,
      );

      const lock = new Kind();
      const locked = counter();
      await joinAll(
        [0, 1, 2, 3].map((i) =>
          child(backend, "incrementLocked", [
            lock,
            locked,
            times,
            i % 2 === 0,
            start,
          ])
        ),
      );
      assert.equal(locked[0], 4 * times);
      assert.equal(lock.locked(), false);
    });

    Deno.test(`${Kind.name}: a child terminated while holding it does not keep it (${backend})`, async () => {
      const lock = new Kind();
      const held = new Event();
      const never = new Event();
      const p = child(backend, "holdForever", [lock, held, never]);
      assert.equal(await held.wait(), true);
      assert.equal(lock.locked(), true);
      assert.equal(await lock.acquire({ blocking: false }), false);
      p.terminate();
      assert.equal(await p.join(), -15);
      // Generous bound only so that a failure ends; it is reached at once.
      assert.equal(await lock.acquire({ timeout: 10_000 }), true);
      lock.release();
    });

    Deno.test(`${Kind.name}: another child waiting on a dead holder gets it (${backend})`, async () => {
      const lock = new Kind();
      const held = new Event();
      const never = new Event();
      const holder = child(backend, "holdForever", [lock, held, never]);
      await held.wait();
      const got = new Event();
      const waiter = child(backend, "acquireThenSet", [lock, got]);
      assert.equal(await got.wait(50), false); // still held
      holder.terminate();
      assert.equal(await got.wait(10_000), true);
      await holder.join();
      await joinAll([waiter]);
    });

    Deno.test(`${Kind.name}: a child that returns holding it leaves it free (${backend})`, async () => {
      const lock = new Kind();
      await joinAll([child(backend, "acquireAndReturn", [lock])]);
      assert.equal(await lock.acquire({ timeout: 10_000 }), true);
      lock.release();
    });

    Deno.test(`${Kind.name}: a child sees the parent's hold (${backend})`, async () => {
      const lock = new Kind();
      const result = counter();
      await lock.acquire();
      await joinAll([child(backend, "tryOnce", [lock, result])]);
      assert.equal(result[0], 0);
      lock.release();
      await joinAll([child(backend, "tryOnce", [lock, result])]);
      assert.equal(result[0], 1);
    });
  }

  Deno.test(`RLock: a child cannot release the parent's hold (${backend})`, async () => {
    const lock = new RLock();
    await lock.acquire();
    const p = child(backend, "releaseForeign", [lock]);
    assert.equal(await p.join(), 1);
    assert.equal(p.error?.name, "RangeError");
    assert.equal(lock.locked(), true);
    lock.release();
  });

  Deno.test(`Lock: any process may release it, as in Python (${backend})`, async () => {
    const lock = new Lock();
    await lock.acquire();
    await joinAll([child(backend, "releaseForeign", [lock])]);
    assert.equal(lock.locked(), false);
  });

  Deno.test(`Lock: a waiter is not starved by a process that keeps taking it (${backend})`, async () => {
    const lock = new Lock();
    const started = new Event();
    const stop = new Event();
    const hammer = child(backend, "hammer", [lock, started, stop]);
    await started.wait();
    // The other child asks once while the first keeps taking the lock.
    const got = new Event();
    const waiter = child(backend, "acquireThenSet", [lock, got]);
    const ok = await got.wait(30_000);
    stop.set();
    await joinAll([hammer, waiter]);
    assert.equal(ok, true);
  });
}

Deno.test("Lock: locks inside args at any depth arrive as working handles", async () => {
  const lock = new Lock();
  const rlock = new RLock();
  const result = counter();
  await lock.acquire();
  const p = new Process({
    target: { module: TARGETS, export: "tryNested" },
    args: [
      { list: [new Map([["lock", lock]])], set: new Set([rlock]) },
      result,
    ],
  });
  p.start();
  await joinAll([p]);
  // The child found the Lock held and took the free RLock.
  assert.equal(result[0], 0b10);
  lock.release();
});

Deno.test("worker: a child terminated while blocked in acquireSync() never takes the lock", async () => {
  const held = new Lock();
  await held.acquire();
  const ticks = new Int32Array(new SharedArrayBuffer(8));
  const child = new Process({
    target: {
      module: new URL("./testdata/busy_targets.ts", import.meta.url),
      export: "waitBlocked",
    },
    args: [held, ticks],
  });
  child.start();
  while (Atomics.load(ticks, 0) === 0) {
    const r = Atomics.waitAsync(ticks, 0, 0, 5_000);
    if (r.async) await r.value;
  }
  child.terminate();
  assert.equal(await child.join(), -15);
  // Deno's terminate() does not interrupt a blocked thread: were the child
  // still waiting, it would take the lock the moment it is free.
  held.release();
  assert.equal(await held.acquire({ timeout: 5_000 }), true);
  held.release();
  assert.equal(Atomics.load(ticks, 1), 0, "the terminated child took the lock");
});
