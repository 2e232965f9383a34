// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Timeouts of any size: Infinity and numbers past what one setTimeout takes
// (2^31 - 1 ms) wait as long as they say, in every kind of wait.
import assert from "node:assert/strict";
import { BACKENDS, startChild } from "./_test_util.ts";
import { deadlineOf, MAX_TIMER_MS, settlesBy } from "./_timeout.ts";
import { Pipe } from "./pipe.ts";
import { Queue } from "./queue.ts";

const PROCESS_TARGETS = new URL(
  "./testdata/process_targets.ts",
  import.meta.url,
);
const QUEUE_TARGETS = new URL("./testdata/queue_targets.ts", import.meta.url);
const PIPE_TARGETS = new URL("./testdata/pipe_targets.ts", import.meta.url);

/** Timeouts that no single setTimeout can wait for. */
const HUGE = [Infinity, 2 ** 31, MAX_TIMER_MS + 0.5, 1e300];

Deno.test("deadlineOf() takes any non-negative number, and only that", () => {
  assert.equal(deadlineOf(undefined), Infinity);
  assert.equal(deadlineOf(Infinity), Infinity);
  const before = performance.now();
  const deadline = deadlineOf(2 ** 31);
  assert.ok(deadline >= before + 2 ** 31 && deadline < Infinity);
  for (const bad of [-1, -Infinity, NaN]) {
    assert.throws(() => deadlineOf(bad), RangeError);
  }
});

Deno.test("settlesBy() waits for the promise however far the deadline is", async () => {
  for (const timeout of [...HUGE, 1000]) {
    const promise = new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await settlesBy(promise, deadlineOf(timeout)), true);
  }
  // Nothing is left pending: the test's sanitizers check for timers.
});

Deno.test("settlesBy() ends at the deadline, and passes a rejection on", async () => {
  const never = new Promise(() => {});
  assert.equal(await settlesBy(never, deadlineOf(0)), false);
  assert.equal(await settlesBy(never, deadlineOf(5)), false);
  const failed = Promise.reject(new TypeError("boom"));
  await assert.rejects(settlesBy(failed, deadlineOf(2 ** 31)), TypeError);
});

for (const backend of BACKENDS) {
  Deno.test(`${backend}: join() with a timeout of any size waits for the child's end`, async () => {
    for (const timeout of HUGE) {
      const p = startChild(PROCESS_TARGETS, backend, "exitWith", [3]);
      try {
        assert.equal(await p.join(timeout), 3, `join(${timeout})`);
      } finally {
        p.terminate();
        await p.join();
      }
    }
  });

  Deno.test(`${backend}: join(2 ** 31) waits while the child works`, async () => {
    const jobs = new Queue<number>();
    const results = new Queue<number[]>();
    const p = startChild(QUEUE_TARGETS, backend, "consume", [jobs, results]);
    try {
      const joined = p.join(2 ** 31);
      await jobs.put(7);
      await jobs.put(-1);
      assert.deepEqual(await results.get(), [7]);
      assert.equal(await joined, 0);
    } finally {
      p.terminate();
      await p.join();
      jobs.close();
      results.close();
    }
  });

  Deno.test(`${backend}: queue gets take a timeout of any size`, async () => {
    const q = new Queue<number>();
    const p = startChild(QUEUE_TARGETS, backend, "putRange", [q, 0, 3]);
    try {
      assert.equal(await q.get({ timeout: 2 ** 31 }), 0);
      assert.equal(q.getSync({ timeout: Infinity }), 1);
      assert.equal(await q.get({ timeout: 1e300 }), 2);
      assert.equal(await p.join(), 0);
    } finally {
      p.terminate();
      await p.join();
      q.close();
    }
  });

  Deno.test(`${backend}: poll() takes a timeout of any size`, async () => {
    const [here, there] = Pipe<string>();
    const p = startChild(PIPE_TARGETS, backend, "sendAll", [there, ["hi"]]);
    try {
      assert.equal(await here.poll(2 ** 31), true);
      assert.equal(await here.recv(), "hi");
      assert.equal(await here.poll(Infinity), true, "EOF once the child ends");
      assert.equal(await p.join(), 0);
    } finally {
      p.terminate();
      await p.join();
      here.close();
    }
  });
}
