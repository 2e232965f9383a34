// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestCondition, ported (see _util.ts for how).
//
// CPython wakes a thread of the test process beside each child; here that
// thread is an async task of the test process running the same function.
// Its `check_invariant` reads private counters of Python's Condition: not
// ported. test_wait_result runs as CPython runs it for threads and managers:
// its SIGINT half (a KeyboardInterrupt inside the parent's wait) has no
// equivalent, a signal ends a Deno program.
import assert from "node:assert/strict";
import { SUBPROCESS_PRIMITIVES } from "../_test_util.ts";
import { getContext } from "../context.ts";
import type { Semaphore } from "../semaphore.ts";
import {
  f,
  testWaitforF,
  testWaitforTimeoutF,
  testWaitResult,
} from "./_condition_targets.ts";
import {
  BACKENDS,
  LONG_TIMEOUT,
  SHORT_TIMEOUT,
  testScope,
  TIMEOUT1,
} from "./_util.ts";

/**
 * CPython's `assertReachesEventually(lambda: get_value(woken), value)`. It
 * polls the count, sleeping between tries; this waits on the semaphore
 * itself (`value` acquires, then as many releases put the count back), then
 * checks the count.
 */
async function assertReachesEventually(woken: Semaphore, value: number) {
  for (let i = 0; i < value; i++) {
    assert.ok(await woken.acquire({ timeout: SHORT_TIMEOUT }));
  }
  if (value > 0) woken.release(value);
  assert.equal(woken.getValue(), value);
}

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(`${backend}: _TestCondition.test_notify`, async () => {
    await using _ = testScope();
    const cond = new mp.Condition();
    const sleeping = new mp.Semaphore(0);
    const woken = new mp.Semaphore(0);

    const p = new mp.Process({ target: f, args: [cond, sleeping, woken] });
    p.daemon = true;
    p.start();

    const t = f(cond, sleeping, woken);

    // wait for both children to start sleeping
    await sleeping.acquire();
    await sleeping.acquire();

    // check no process/thread has woken up
    await assertReachesEventually(woken, 0);

    // wake up one process/thread
    await cond.acquire();
    cond.notify();
    cond.release();

    // check one process/thread has woken up
    await assertReachesEventually(woken, 1);

    // wake up another
    await cond.acquire();
    cond.notify();
    cond.release();

    // check other has woken up
    await assertReachesEventually(woken, 2);

    await t;
    await p.join();
  });

  Deno.test(`${backend}: _TestCondition.test_notify_all`, async () => {
    await using _ = testScope();
    const cond = new mp.Condition();
    const sleeping = new mp.Semaphore(0);
    const woken = new mp.Semaphore(0);

    // start some threads/processes which will timeout
    const workers: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      const p = new mp.Process({
        target: f,
        args: [cond, sleeping, woken, TIMEOUT1],
      });
      p.daemon = true;
      p.start();
      workers.push(p.join());

      workers.push(f(cond, sleeping, woken, TIMEOUT1));
    }

    // wait for them all to sleep
    for (let i = 0; i < 6; i++) await sleeping.acquire();

    // check they have all timed out
    for (let i = 0; i < 6; i++) await woken.acquire();
    assert.equal(woken.getValue(), 0);

    // start some more threads/processes
    for (let i = 0; i < 3; i++) {
      const p = new mp.Process({ target: f, args: [cond, sleeping, woken] });
      p.daemon = true;
      p.start();
      workers.push(p.join());

      workers.push(f(cond, sleeping, woken));
    }

    // wait for them to all sleep
    for (let i = 0; i < 6; i++) await sleeping.acquire();

    // check no process/thread has woken up (CPython sleeps DELTA first: a
    // settling sleep, dropped)
    assert.equal(woken.getValue(), 0);

    // wake them all up
    await cond.acquire();
    cond.notifyAll();
    cond.release();

    // check they have all woken
    for (let i = 0; i < 6; i++) await woken.acquire();
    assert.equal(woken.getValue(), 0);

    for (const w of workers) await w;
  });

  Deno.test(`${backend}: _TestCondition.test_notify_n`, async () => {
    await using _ = testScope();
    const cond = new mp.Condition();
    const sleeping = new mp.Semaphore(0);
    const woken = new mp.Semaphore(0);

    // start some threads/processes
    const workers: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      const p = new mp.Process({ target: f, args: [cond, sleeping, woken] });
      p.daemon = true;
      p.start();
      workers.push(p.join());

      workers.push(f(cond, sleeping, woken));
    }

    // wait for them to all sleep
    for (let i = 0; i < 6; i++) await sleeping.acquire();

    // check no process/thread has woken up (CPython sleeps DELTA first: a
    // settling sleep, dropped)
    assert.equal(woken.getValue(), 0);

    // wake some of them up
    await cond.acquire();
    cond.notify(2);
    cond.release();

    // check 2 have woken
    await assertReachesEventually(woken, 2);

    // wake the rest of them
    await cond.acquire();
    cond.notify(4);
    cond.release();

    await assertReachesEventually(woken, 6);

    // doesn't do anything more
    await cond.acquire();
    cond.notify(3);
    cond.release();

    assert.equal(woken.getValue(), 6);

    for (const w of workers) await w;
  });

  Deno.test(`${backend}: _TestCondition.test_timeout`, async () => {
    const cond = new mp.Condition();
    await cond.acquire();
    const res = await cond.wait(TIMEOUT1);
    cond.release();
    assert.equal(res, false);
  });

  // README, "What differs from Python": on the subprocess backend behind the
  // proxy (no FFI) a function cannot be passed to a primitive's method, so
  // Condition.waitFor works on Workers and in shared memory only. There the
  // child's waitFor throws, and that is checked.
  Deno.test(`${backend}: _TestCondition.test_waitfor`, async () => {
    await using _ = testScope();
    // based on test in test/lock_tests.py
    const cond = new mp.Condition();
    const state = new mp.Value("i", -1);

    const p = new mp.Process({ target: testWaitforF, args: [cond, state] });
    p.daemon = true;
    p.start();

    {
      using _ = await cond.hold();
      const result = await cond.waitFor(() => state.value === 0);
      assert.ok(result);
      assert.equal(state.value, 0);
    }

    // CPython sleeps 10 ms before each step, to let the child wait: the
    // child checks its predicate whenever it wakes, so the steps need not
    // be paced.
    for (let i = 0; i < 4; i++) {
      using _ = await cond.hold();
      state.value += 1;
      cond.notify();
    }

    await p.join();
    if (backend === "subprocess" && SUBPROCESS_PRIMITIVES === "proxy") {
      assert.equal(p.exitCode, 1);
      assert.equal(p.error?.name, "DataCloneError", String(p.error));
    } else {
      assert.equal(p.exitCode, 0);
    }
  });

  Deno.test(`${backend}: _TestCondition.test_waitfor_timeout`, async () => {
    await using _ = testScope();
    // based on test in test/lock_tests.py
    const cond = new mp.Condition();
    const state = new mp.Value("i", 0);
    const success = new mp.Value("i", 0);
    const sem = new mp.Semaphore(0);

    const p = new mp.Process({
      target: testWaitforTimeoutF,
      args: [cond, state, success, sem],
    });
    p.daemon = true;
    p.start();
    assert.ok(await sem.acquire({ timeout: LONG_TIMEOUT }));

    // Only increment 3 times, so state == 4 is never reached. (CPython
    // sleeps 10 ms before each: not needed, as in test_waitfor.)
    for (let i = 0; i < 3; i++) {
      using _ = await cond.hold();
      state.value += 1;
      cond.notify();
    }

    await p.join();
    if (backend === "subprocess" && SUBPROCESS_PRIMITIVES === "proxy") {
      // See test_waitfor: the child's waitFor throws.
      assert.equal(p.error?.name, "DataCloneError", String(p.error));
      assert.ok(!success.value);
    } else {
      assert.ok(success.value);
    }
  });

  Deno.test(`${backend}: _TestCondition.test_wait_result`, async () => {
    await using _ = testScope();
    const pid = null;

    const c = new mp.Condition();
    using _held = await c.hold();
    assert.equal(await c.wait(0), false);
    assert.equal(await c.wait(100), false);

    const p = new mp.Process({ target: testWaitResult, args: [c, pid] });
    p.start();

    assert.ok(await c.wait(60_000));

    await p.join();
  });
}
