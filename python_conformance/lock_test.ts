// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestLock, ported (see _util.ts for how).
//
// Not ported: test_repr_lock and test_repr_rlock (Python's repr() naming
// the owning process and thread, and a Manager list).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { testLockLocked2processes } from "./_lock_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(`${backend}: _TestLock.test_lock`, async () => {
    const lock = new mp.Lock();
    assert.equal(await lock.acquire(), true);
    assert.ok(lock.locked());
    assert.equal(await lock.acquire({ blocking: false }), false);
    assert.equal(lock.release(), undefined);
    assert.ok(!lock.locked());
    assert.throws(() => lock.release(), RangeError);
  });

  Deno.test(`${backend}: _TestLock.test_lock_locked_2processes`, async () => {
    await using _ = testScope();
    const lock = new mp.Lock();
    const event = new mp.Event();
    const res = new mp.Value("b", 0);
    const looked = new mp.Event(); // see testLockLocked2processes
    const p = new mp.Process({
      target: testLockLocked2processes,
      args: [lock, event, res, looked],
    });
    p.start();
    await event.wait();
    assert.ok(lock.locked());
    assert.ok(res.value);
    looked.set();
    await p.join();
  });

  Deno.test(`${backend}: _TestLock.test_rlock`, async () => {
    const lock = new mp.RLock();
    assert.equal(await lock.acquire(), true);
    assert.ok(lock.locked());
    assert.equal(await lock.acquire(), true);
    assert.equal(await lock.acquire(), true);
    assert.equal(lock.release(), undefined);
    assert.ok(lock.locked());
    assert.equal(lock.release(), undefined);
    assert.equal(lock.release(), undefined);
    assert.ok(!lock.locked());
    assert.throws(() => lock.release(), RangeError);
  });

  Deno.test(`${backend}: _TestLock.test_rlock_locked_2processes`, async () => {
    await using _ = testScope();
    const rlock = new mp.RLock();
    const event = new mp.Event();
    const res = new mp.Value("b", 0);
    const looked = new mp.Event(); // see testLockLocked2processes
    // target is the same as for the test_lock_locked_2processes test.
    const p = new mp.Process({
      target: testLockLocked2processes,
      args: [rlock, event, res, looked],
    });
    p.start();
    await event.wait();
    assert.ok(rlock.locked());
    assert.ok(res.value);
    looked.set();
    await p.join();
  });

  // Python's `with lock as locked:` gets acquire()'s True; `using` gets the
  // hold, which is there only when the lock was acquired.
  Deno.test(`${backend}: _TestLock.test_lock_context`, async () => {
    using locked = await new mp.Lock().hold();
    assert.ok(locked);
  });

  Deno.test(`${backend}: _TestLock.test_rlock_context`, async () => {
    using locked = await new mp.RLock().hold();
    assert.ok(locked);
  });
}
