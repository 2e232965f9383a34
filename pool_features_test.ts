// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What pool users ask for beyond Python's Pool (issue 16): progress, events
// from inside a task, time limits that stop a task, and argument types.
import assert from "node:assert/strict";
import { BACKENDS, running } from "./_test_util.ts";
import { ProcessError, TimeoutError } from "./errors.ts";
import { emit, Pool, type Progress, transfer } from "./pool.ts";
import { Value } from "./shared.ts";
import { Process } from "./process.ts";
import { Event } from "./event.ts";
import { add, blocker, inc } from "./testdata/pool_targets.ts";

const TARGETS = new URL("./testdata/pool_targets.ts", import.meta.url);
const fn = (name: string) => ({ module: TARGETS, export: name });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const backend of BACKENDS) {
  Deno.test(`${backend}: map tells onProgress how far it got, at most every 100 ms, and once at the end`, async () => {
    await using pool = new Pool({ backend, processes: 2 });
    const seen: Progress[] = [];
    const results = await pool.map(fn("slowSquare"), range(40), {
      chunksize: 1,
      onProgress: (progress) => seen.push(progress),
    });
    assert.equal(results.length, 40);
    const last = seen.at(-1)!;
    assert.equal(last.done, 40);
    assert.equal(last.total, 40);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i].done >= seen[i - 1].done, "done never goes back");
      if (i < seen.length - 1) {
        assert.ok(
          seen[i].elapsedMs - seen[i - 1].elapsedMs >= 100,
          "at most every 100 ms",
        );
      }
    }
    assert.equal(
      seen.filter((p) => p.done === 40).length,
      1,
      "once at the end",
    );
  });

  Deno.test(`${backend}: imap's progress has no total until its input ended`, async () => {
    await using pool = new Pool({ backend, processes: 1 });
    const seen: Progress[] = [];
    async function* items() {
      for (const i of range(5)) yield i;
    }
    const results = await Array.fromAsync(
      pool.imap(inc, items(), { onProgress: (p) => seen.push(p) }),
    );
    assert.deepEqual(results, [1, 2, 3, 4, 5]);
    assert.deepEqual(
      { done: seen.at(-1)!.done, total: seen.at(-1)!.total },
      { done: 5, total: 5 },
    );
    assert.ok(
      seen.slice(0, -1).every((p) => p.total === undefined || p.done < 5),
    );
  });

  Deno.test(`${backend}: what a task emits reaches onEvent, in order, before its result`, async () => {
    await using pool = new Pool({ backend, processes: 2 });
    const events: unknown[] = [];
    const result = await pool.apply(fn("emitEach"), [3], {
      onEvent: (value) => events.push(value),
    });
    assert.equal(result, 3);
    assert.deepEqual(events, [1, 2, 3]);
    const mapped: unknown[] = [];
    await pool.map(fn("emitTwiceAsync"), [1, 2, 3], {
      chunksize: 1,
      onEvent: (value) => mapped.push(value),
    });
    assert.deepEqual(
      mapped.toSorted(),
      ["1 ends", "1 starts", "2 ends", "2 starts", "3 ends", "3 starts"],
    );
  });

  Deno.test(`${backend}: a task past its timeout fails with TimeoutError, and its worker is stopped and replaced`, async () => {
    await using pool = new Pool({ backend, processes: 1 });
    await pool.apply(inc, [0]); // The worker is up.
    const { started, pid, release, args } = blocker();
    // The task never ends by itself: only the timeout ends it, once it runs.
    const task = pool.apply(fn("signalAndBlock"), args, { timeout: 3000 });
    const outcome = task.catch((error) => error);
    assert.equal(await started.wait(30_000), true, "it runs");
    const error = await outcome;
    assert.ok(error instanceof TimeoutError);
    assert.match(error.message, /within its timeout of 3000 ms/);
    const stopped = pid.value;
    // The next task runs on a new worker: the old one was stopped.
    const next = await pool.apply(fn("pidOf"), [0]);
    assert.notEqual(next, stopped);
    if (backend === "subprocess") assert.equal(running(stopped), false);
    release.set(); // changes nothing now
  });

  Deno.test(`${backend}: a map past its timeout fails, and the tasks it had not started never run`, async () => {
    await using pool = new Pool({ backend, processes: 1 });
    const runs = new Value("i32", 0);
    const { args } = blocker();
    const blocked = pool.apply(fn("signalAndBlock"), args, { timeout: 100 });
    const mapped = pool.map(fn("countRun"), range(5).map(() => runs), {
      timeout: 50,
    }).catch((error) => error);
    await assert.rejects(blocked, TimeoutError);
    assert.ok(await mapped instanceof TimeoutError);
    assert.equal(await pool.apply(inc, [1]), 2, "the pool goes on");
    assert.equal(runs.value, 0);
  });

  Deno.test(`${backend}: an abort with stopRunning stops the running task's worker; without, the task runs on`, async () => {
    await using pool = new Pool({ backend, processes: 1 });
    const first = blocker();
    const controller = new AbortController();
    const task = pool.apply(fn("signalAndBlock"), first.args, {
      signal: controller.signal,
    });
    assert.equal(await first.started.wait(30_000), true);
    controller.abort(new Error("not needed"));
    await assert.rejects(task, /not needed/);
    first.release.set();
    assert.equal(
      await pool.apply(fn("pidOf"), [0]),
      first.pid.value,
      "same worker",
    );

    const second = blocker();
    const stopper = new AbortController();
    const stopped = pool.apply(fn("signalAndBlock"), second.args, {
      signal: stopper.signal,
      stopRunning: true,
    });
    assert.equal(await second.started.wait(30_000), true);
    stopper.abort(new Error("stop it"));
    await assert.rejects(stopped, /stop it/);
    assert.notEqual(await pool.apply(fn("pidOf"), [0]), second.pid.value);
  });
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a task's result given to transfer() arrives whole, moved on Workers and copied on subprocesses`, async () => {
    await using pool = new Pool({ backend, processes: 1 });
    const size = 3 * 1024 * 1024 + 5;
    const bytes = new Uint8Array(
      await pool.apply(fn("filledBuffer"), [size, 7]) as ArrayBuffer,
    );
    assert.equal(bytes.length, size);
    assert.equal(bytes[0], 7);
    assert.equal(bytes[size - 1], 7);
    assert.equal(bytes.indexOf(0), -1);
    // Moved, the worker's buffer is detached; copied, it is not.
    assert.equal(
      await pool.apply(fn("lastReturnedDetached")),
      backend === "worker",
    );
    // A typed array inside data, several in one chunk of a map.
    const results = await pool.map(fn("samplesIn"), [1, 20, 3], {
      chunksize: 3,
    }) as { label: string; samples: Float64Array }[];
    assert.deepEqual(results.map((r) => r.label), [
      "1 samples",
      "20 samples",
      "3 samples",
    ]);
    assert.deepEqual(
      results[1].samples,
      new Float64Array(20).map((_, i) => i / 2),
    );
  });
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a worker's event loop runs while tasks stream to it, and while it is idle`, async () => {
    const ticked = new Event();
    await using pool = new Pool({
      backend,
      processes: 1,
      initializer: fn("tickEveryMs"),
      initArgs: [ticked],
    });
    // Busy: tiny tasks one after another; the worker's timer still ticks.
    let seen = 0;
    const until = performance.now() + 10_000;
    while (seen < 3 && performance.now() < until) {
      seen = await pool.apply(fn("ticksSoFar")) as number;
    }
    assert.ok(seen >= 3, `the worker's timer ticked ${seen} times`);
    // Idle: nothing more is sent, and its timer ticks all the same.
    await pool.apply(fn("setOnNextTick"));
    assert.equal(await ticked.wait(10_000), true);
  });
}

Deno.test("transfer() refuses a primitive and anything but ArrayBuffers, and outside a task gives the value back", () => {
  assert.throws(() => transfer(5, []), {
    name: "TypeError",
    message: /Cannot transfer a number/,
  });
  const samples = new Float64Array(2);
  assert.throws(
    () => transfer(samples, [samples as unknown as ArrayBuffer]),
    { name: "TypeError", message: /array of ArrayBuffers/ },
  );
  assert.equal(transfer(samples, [samples.buffer]), samples);
  assert.equal(samples.buffer.detached, false);
});

Deno.test("emit() outside a pool task is a ProcessError that says where it works", () => {
  assert.throws(() => emit(1), (error: Error) => {
    assert.ok(error instanceof ProcessError);
    assert.match(error.message, /inside a task the pool runs/);
    return true;
  });
});

Deno.test("a timeout that is not a number of ms is a RangeError, and nothing runs", async () => {
  await using pool = new Pool({ processes: 1 });
  await assert.rejects(pool.apply(inc, [1], { timeout: -1 }), RangeError);
  await assert.rejects(pool.map(inc, [1], { timeout: NaN }), RangeError);
});

Deno.test("the types: a call or a Process needs the arguments of its function, and submit infers the result", () => {
  // Type-checked, never run: a missing argument list is a compile error.
  const check = (pool: Pool) => {
    // @ts-expect-error: add takes two numbers
    pool.apply(add);
    // @ts-expect-error: add takes two numbers
    pool.applyAsync(add);
    // @ts-expect-error: add takes two numbers
    pool.submit(add, 1);
    // @ts-expect-error: a string is not a number
    pool.apply(add, [1, "2"]);
    // @ts-expect-error: add takes two numbers
    new Process({ target: add });
    new Process({ target: add, args: [1, 2] });
    new Process({ target: { module: "file:///m.ts", export: "f" } });
    const sum: Promise<number> = pool.submit(add, 1, 2).result();
    const one: Promise<number> = pool.apply(inc, [0]);
    return [sum, one];
  };
  assert.equal(typeof check, "function");
});
