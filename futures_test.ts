// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Python's concurrent.futures over the pool: Future, ProcessPoolExecutor,
// asCompleted and wait, on both backends.
import assert from "node:assert/strict";
import { BACKENDS } from "./_test_util.ts";
import { CancelledError, ProcessError, TimeoutError } from "./errors.ts";
import {
  ALL_COMPLETED,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  ProcessPoolExecutor,
  wait,
} from "./futures.ts";
import { add, blocker, inc } from "./testdata/pool_targets.ts";

const TARGETS = new URL("./testdata/pool_targets.ts", import.meta.url);
const fn = (name: string) => ({ module: TARGETS, export: name });

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a submitted task's future gives its result, its error, and calls back when done`, async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 2, backend });
    const sum = executor.submit(add, 2, 3);
    const failed = executor.submit(fn("failOn"), 3);
    const called = Promise.withResolvers<boolean>();
    sum.addDoneCallback((future) => called.resolve(future.done()));
    assert.equal(await sum.result(), 5);
    assert.equal(await called.promise, true);
    assert.equal(await sum.exception(), undefined);
    const error = await failed.exception() as Error;
    assert.equal(error.name, "ValueError");
    await assert.rejects(failed.result(), { name: "ValueError" });
    assert.equal(failed.done(), true);
    assert.equal(failed.cancelled(), false);
  });

  Deno.test(`${backend}: a future can be cancelled until a worker takes its task, not after`, async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    using blocked = blocker();
    const { started, release, args } = blocked;
    const running = executor.submit(fn("signalAndBlock"), ...args);
    assert.equal(await started.wait(30_000), true);
    const waiting = executor.submit(inc, 1);
    // The one worker is busy, and holds at most one chunk behind the running
    // one: a third task is surely still in the pool's queue.
    const queued = executor.submit(inc, 2);
    assert.equal(running.running(), true);
    assert.equal(running.cancel(), false, "a running task is not cancelled");
    assert.equal(queued.cancel(), true);
    assert.equal(queued.cancelled(), true);
    assert.equal(queued.done(), true);
    assert.equal(queued.cancel(), true, "cancelling again says it is");
    await assert.rejects(queued.result(), CancelledError);
    await assert.rejects(queued.exception(), CancelledError);
    release.set();
    assert.equal(typeof await running.result(), "number");
    assert.equal(await waiting.result(), 2);
  });

  Deno.test(`${backend}: result(timeout) gives up with TimeoutError and the task goes on`, async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    using blocked = blocker();
    const { started, release, args } = blocked;
    const future = executor.submit(fn("signalAndBlock"), ...args);
    assert.equal(await started.wait(30_000), true);
    await assert.rejects(future.result(10), TimeoutError);
    assert.equal(future.done(), false);
    release.set();
    assert.equal(typeof await future.result(), "number");
  });

  Deno.test(`${backend}: asCompleted yields the done futures first, then each as it ends`, async () => {
    // The blocked task has an executor of its own: a task queued behind it
    // on one worker would wait for it.
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    await using other = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    const early = other.submit(inc, 0);
    await early.result();
    using blocked = blocker();
    const { started, release, args } = blocked;
    const late = executor.submit(fn("signalAndBlock"), ...args);
    assert.equal(await started.wait(30_000), true);
    const quick = other.submit(inc, 1);
    const order: unknown[] = [];
    for await (const future of asCompleted([late, quick, early])) {
      order.push(future);
      if (future === quick) release.set();
    }
    assert.deepEqual(order, [early, quick, late]);
  });

  Deno.test(`${backend}: asCompleted with a timeout throws TimeoutError for the futures not done`, async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    using blocked = blocker();
    const { started, release, args } = blocked;
    const stuck = executor.submit(fn("signalAndBlock"), ...args);
    assert.equal(await started.wait(30_000), true);
    await assert.rejects(
      Array.fromAsync(asCompleted([stuck], { timeout: 10 })),
      (error: Error) =>
        error instanceof TimeoutError && /1 of the futures/.test(error.message),
    );
    release.set();
    await stuck.result();
  });

  Deno.test(`${backend}: wait returns on the first completed, the first exception, or all`, async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    await using other = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    using blocked = blocker();
    const { started, release, args } = blocked;
    const stuck = executor.submit(fn("signalAndBlock"), ...args);
    assert.equal(await started.wait(30_000), true);
    const ok = other.submit(inc, 1);
    const first = await wait([stuck, ok], { returnWhen: FIRST_COMPLETED });
    assert.deepEqual([...first.done], [ok]);
    assert.deepEqual([...first.notDone], [stuck]);
    const failing = other.submit(fn("failOn"), 3);
    const firstError = await wait([stuck, failing], {
      returnWhen: FIRST_EXCEPTION,
    });
    assert.deepEqual([...firstError.done], [failing]);
    const timedOut = await wait([stuck], { timeout: 10 });
    assert.deepEqual([...timedOut.notDone], [stuck]);
    release.set();
    const all = await wait([stuck, ok, failing], { returnWhen: ALL_COMPLETED });
    assert.equal(all.done.size, 3);
    assert.equal(all.notDone.size, 0);
    await assert.rejects(
      wait([ok], { returnWhen: "SOMETIMES" as never }),
      RangeError,
    );
  });

  Deno.test(`${backend}: the executor's map zips its iterables and gives results in order`, async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 2, backend });
    const sums = await Array.fromAsync(
      executor.map(add, [1, 2, 3, 4], [10, 20, 30]),
    );
    assert.deepEqual(sums, [11, 22, 33]);
    const chunked = await Array.fromAsync(
      executor.map(inc, Array.from({ length: 50 }, (_, i) => i), {
        chunksize: 7,
      }),
    );
    assert.deepEqual(chunked, Array.from({ length: 50 }, (_, i) => i + 1));
  });

  Deno.test(`${backend}: the executor's map past its timeout throws TimeoutError and stops what runs`, async () => {
    await using executor = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    assert.equal(await executor.submit(inc, 0).result(), 1); // The worker is up.
    using blocked = blocker();
    const { args } = blocked;
    // The task never ends by itself (its release comes at the test's end):
    // only the timeout ends the map, whether the task began or not.
    const results = executor.map(
      fn("signalAndBlock"),
      [args[0]],
      [args[1]],
      [args[2]],
      { timeout: 1000 },
    );
    await assert.rejects(results.next(), TimeoutError);
    assert.equal(await executor.submit(inc, 1).result(), 2, "it goes on");
  });

  Deno.test(`${backend}: shutdown waits for the tasks, or cancels those not started; then submit throws`, async () => {
    const executor = new ProcessPoolExecutor({ maxWorkers: 1, backend });
    using blocked = blocker();
    const { started, release, args } = blocked;
    const running = executor.submit(fn("signalAndBlock"), ...args);
    assert.equal(await started.wait(30_000), true);
    executor.submit(inc, 1); // may be in the worker's window already
    const queued = executor.submit(inc, 2);
    const done = executor.shutdown({ cancelFutures: true });
    assert.equal(queued.cancelled(), true);
    assert.throws(() => executor.submit(inc, 3), ProcessError);
    release.set();
    await done;
    assert.equal(running.done(), true);
  });
}
