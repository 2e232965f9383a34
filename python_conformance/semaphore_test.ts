// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestSemaphore, ported (see _util.ts for how).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import type { Semaphore } from "../semaphore.ts";
import { BACKENDS, TIMEOUT1, TIMEOUT2, TIMEOUT3 } from "./_util.ts";

/** CPython's `_test_semaphore(sem)`, for a semaphore of value 2. */
async function checkSemaphore(sem: Semaphore): Promise<void> {
  assert.equal(sem.getValue(), 2);
  assert.equal(await sem.acquire(), true);
  assert.equal(sem.getValue(), 1);
  assert.equal(await sem.acquire(), true);
  assert.equal(sem.getValue(), 0);
  assert.equal(await sem.acquire({ blocking: false }), false);
  assert.equal(sem.getValue(), 0);
  assert.equal(sem.release(), undefined);
  assert.equal(sem.getValue(), 1);
  assert.equal(sem.release(), undefined);
  assert.equal(sem.getValue(), 2);
}

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(`${backend}: _TestSemaphore.test_semaphore`, async () => {
    const sem = new mp.Semaphore(2);
    await checkSemaphore(sem);
    assert.equal(sem.release(), undefined);
    assert.equal(sem.getValue(), 3);
    assert.equal(sem.release(), undefined);
    assert.equal(sem.getValue(), 4);
  });

  Deno.test(`${backend}: _TestSemaphore.test_bounded_semaphore`, async () => {
    const sem = new mp.BoundedSemaphore(2);
    await checkSemaphore(sem);
    // Currently fails on OS/X
    // assert.throws(() => sem.release(), RangeError);
    // assert.equal(sem.getValue(), 2);
  });

  Deno.test({
    name: `${backend}: _TestSemaphore.test_timeout`,
    async fn() {
      const sem = new mp.Semaphore(0);

      assert.equal(await sem.acquire({ blocking: false }), false);
      assert.equal(
        await sem.acquire({ blocking: false, timeout: undefined }),
        false,
      );
      assert.equal(
        await sem.acquire({ blocking: false, timeout: TIMEOUT1 }),
        false,
      );
      assert.equal(
        await sem.acquire({ blocking: true, timeout: TIMEOUT2 }),
        false,
      );
      assert.equal(await sem.acquire({ timeout: TIMEOUT3 }), false);
    },
  });
}
