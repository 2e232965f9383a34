// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { BoundedSemaphore, Semaphore } from "./semaphore.ts";
import { SharedArray } from "./shared.ts";
import { TimeoutError } from "./errors.ts";
import { BACKENDS } from "./_test_util.ts";
import { child, joinAll } from "./testdata/sync_helpers.ts";

Deno.test("Semaphore: counts down and up, with timeouts and tries", async () => {
  const sem = new Semaphore(2);
  assert.equal(sem.getValue(), 2);
  assert.equal(await sem.acquire(), true);
  assert.equal(sem.acquireSync(), true);
  assert.equal(sem.getValue(), 0);
  assert.equal(await sem.acquire({ blocking: false }), false);
  assert.equal(sem.acquireSync({ timeout: 10 }), false);
  assert.equal(await sem.acquire({ timeout: 10 }), false);
  sem.release();
  sem.release(3); // a plain Semaphore may go above its start
  assert.equal(sem.getValue(), 4);
  assert.equal(new Semaphore().getValue(), 1);
  assert.equal(new Semaphore(0).acquireSync({ blocking: false }), false);
});

Deno.test("Semaphore: bad values throw", async () => {
  assert.throws(() => new Semaphore(-1), RangeError);
  assert.throws(() => new Semaphore(1.5), RangeError);
  const sem = new Semaphore(0);
  assert.throws(() => sem.release(0), RangeError);
  assert.throws(() => sem.release(-2), RangeError);
  await assert.rejects(
    async () => await sem.acquire({ timeout: -5 }),
    RangeError,
  );
});

Deno.test("Semaphore: a non-blocking acquire ignores its timeout, as Python's", async () => {
  const sem = new Semaphore(1);
  assert.equal(sem.acquireSync({ blocking: false, timeout: 1 }), true);
  assert.equal(sem.acquireSync({ blocking: false, timeout: -1 }), false);
  assert.equal(await sem.acquire({ blocking: false, timeout: 1 }), false);
  assert.equal(sem.getValue(), 0);
});

Deno.test("Semaphore: an async waiter wakes on release", async () => {
  const sem = new Semaphore(0);
  const waiter = sem.acquire();
  sem.release();
  assert.equal(await waiter, true);
  assert.equal(sem.getValue(), 0);
});

Deno.test("Semaphore: hold and using", async () => {
  const sem = new Semaphore(1);
  {
    using _ = await sem.hold();
    assert.equal(sem.getValue(), 0);
    await assert.rejects(sem.hold({ timeout: 5 }), TimeoutError);
    assert.throws(() => sem.holdSync({ timeout: 5 }), TimeoutError);
  }
  assert.equal(sem.getValue(), 1);
  {
    using _ = sem.holdSync();
    assert.equal(sem.getValue(), 0);
  }
  {
    sem.acquireSync();
    using _held = sem;
  }
  assert.equal(sem.getValue(), 1);
});

Deno.test("BoundedSemaphore: releasing more than acquired throws RangeError", async () => {
  const sem = new BoundedSemaphore(2);
  assert.throws(() => sem.release(), RangeError);
  await sem.acquire();
  await sem.acquire();
  sem.release();
  assert.throws(() => sem.release(2), RangeError);
  sem.release();
  assert.equal(sem.getValue(), 2);
  assert.throws(() => sem.release(), RangeError);
  assert.ok(sem instanceof Semaphore);
});

for (const backend of BACKENDS) {
  Deno.test(`Semaphore(2): never more than 2 of 4 children inside at once (${backend})`, async () => {
    const sem = new Semaphore(2);
    const stats = new SharedArray("i32", 2); // [inside now, most inside]
    await joinAll(
      [0, 1, 2, 3].map(() => child(backend, "useSlot", [sem, stats, 5])),
    );
    assert.equal(stats[0], 0);
    assert.ok(stats[1] >= 1 && stats[1] <= 2, `most inside: ${stats[1]}`);
    assert.equal(sem.getValue(), 2);
  });

  Deno.test(`Semaphore: a child's releases wake the parent (${backend})`, async () => {
    const sem = new Semaphore(0);
    const waiting = sem.acquire();
    const p = child(backend, "releaseSemaphore", [sem, 2]);
    assert.equal(await waiting, true);
    await joinAll([p]);
    assert.equal(await sem.acquire(), true);
    assert.equal(sem.getValue(), 0);
  });

  Deno.test(`BoundedSemaphore: a child's over-release throws there (${backend})`, async () => {
    const sem = new BoundedSemaphore(1);
    const p = child(backend, "releaseSemaphore", [sem, 1]);
    assert.equal(await p.join(), 1);
    assert.equal(p.error?.name, "RangeError");
    assert.equal(sem.getValue(), 1);
  });
}
