// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The fault matrix: what a fault (a killed child, a dead parent, bad input,
// an unguarded module, load) may not cost. Each test's name is the contract
// it checks; each runs on every backend where the fault applies.
import assert from "node:assert/strict";
import { BACKENDS } from "./_test_util.ts";
import { getContext } from "./context.ts";
import { ProcessError } from "./errors.ts";
import { Pool } from "./pool.ts";
import { activeChildren, cpuCount } from "./process.ts";

// §1 A child of an unguarded module gets a clear error.

// §2 A subprocess child ends with its parent, however busy.

// §3 A killed Worker child's library calls have no effect.

// §4 A call pending when its subprocess child dies is cancelled.

// §5 A dead pool worker takes no new work.

const POOL_TARGETS = new URL("./testdata/pool_targets.ts", import.meta.url);
const poolTask = (name: string) => ({ module: POOL_TARGETS, export: name });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The messages of the promises that rejected. */
function failures(results: PromiseSettledResult<unknown>[]): string[] {
  return results.flatMap((result) =>
    result.status === "rejected" ? [String(result.reason)] : []
  );
}

function poolWorkers() {
  return activeChildren().filter((child) =>
    child.name.startsWith("PoolWorker-")
  );
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a dead pool worker takes no new work; only the task it was running fails`, async () => {
    await using pool = new Pool({ backend, processes: 2 });
    // Tasks sent right behind the one that kills its worker race its
    // death: each round gives the race another chance.
    for (let round = 0; round < 6; round++) {
      const [dying, ...others] = await Promise.allSettled([
        pool.apply(poolTask("dieWith"), [7]),
        ...range(50).map((x) => pool.apply(poolTask("inc"), [x])),
      ]);
      assert.equal(dying.status, "rejected");
      assert.ok(dying.reason instanceof ProcessError);
      assert.match(
        dying.reason.message,
        /^Pool worker PoolWorker-\d+ \(pid \d+\) ended with exit code 7 while running this task/,
      );
      assert.deepEqual(failures(others), []);
      assert.deepEqual(
        others.map((result) =>
          (result as PromiseFulfilledResult<number>).value
        ),
        range(50).map((x) => x + 1),
      );
    }
  });

  Deno.test(`${backend}: a pool worker killed while idle costs no task; its tasks run on its replacement`, async () => {
    await using pool = new Pool({ backend, processes: 1 });
    for (let round = 0; round < 5; round++) {
      const [worker] = poolWorkers();
      await pool.apply(poolTask("inc"), [0]); // It is ready, and idle.
      worker.kill();
      const results = await Promise.allSettled(
        range(20).map((x) => pool.apply(poolTask("pidOf"), [x])),
      );
      assert.deepEqual(failures(results), []);
      const pids = results.map((result) =>
        (result as PromiseFulfilledResult<number>).value
      );
      assert.ok(!pids.includes(worker.pid!), "a task ran on the killed worker");
      assert.equal(new Set(pids).size, 1);
      await worker.join();
    }
  });
}

// §6 Timeouts of any length.

// §7 Deno.exitCode is the child's exit code.

// §8 No temporary directory is left behind.

// §9 Python's habits.

for (const backend of BACKENDS) {
  Deno.test(`${backend}: Pool(n) starts n workers, as Python's Pool(n)`, async () => {
    const { Pool } = getContext(backend);
    // More than cpuCount(), the default, so that a number that was ignored
    // shows.
    const n = cpuCount() + 1;
    await using pool = new Pool(n);
    assert.equal(pool.processes, n);
    assert.equal(poolWorkers().length, n);
    assert.deepEqual(
      await pool.map(poolTask("inc"), range(10)),
      range(11).slice(1),
    );
  });
}

Deno.test("Pool(n) with n not a positive integer is a RangeError that says what to pass", () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => new Pool(bad), (error: Error) => {
      assert.ok(error instanceof RangeError, `new Pool(${bad})`);
      assert.match(
        error.message,
        /^The processes option must be a whole number from 1 up, got /,
      );
      assert.match(error.message, /new Pool\(4\)/);
      return true;
    });
  }
  assert.equal(poolWorkers().length, 0);
});

Deno.test("Pool refuses Python's further positional arguments rather than ignoring them", () => {
  const init = poolTask("initialize");
  // @ts-expect-error: Python's Pool(processes, initializer, initargs)
  assert.throws(() => new Pool(2, init, ["x"]), {
    name: "TypeError",
    message:
      /new Pool\(\{ processes: 4, initializer: init, initArgs: args \}\)/,
  });
  // @ts-expect-error: not a number of processes
  assert.throws(() => new Pool("4"), {
    name: "TypeError",
    message: /a number of processes or an options object, got string/,
  });
  assert.equal(poolWorkers().length, 0);
});

// §10 Messages that say what to do.

// §11 No library call stalls the event loop.

/** Runs `work` while a 5 ms timer measures how late it fires at worst. */
async function largestTimerLag(work: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let largest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    largest = Math.max(largest, now - last - 5);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return largest;
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a map over a million records leaves the event loop free`, async () => {
    // One worker: the test's own processes leave a core to the event loop.
    await using pool = new Pool({ backend, processes: 1 });
    await pool.map(poolTask("identity"), range(100)); // The worker is up.
    const records = range(1e6).map((id) => ({ id }));
    let results: { id: number }[] = [];
    const lag = await largestTimerLag(async () => {
      results = await pool.map(poolTask("identity"), records);
    });
    assert.equal(results.length, records.length);
    assert.ok(results.every((record, i) => record.id === i));
    // The bound leaves room for a loaded machine; bench/pool_bench.ts
    // measures the lag itself.
    assert.ok(lag < 500, `the event loop stalled for ${Math.round(lag)} ms`);
  });
}

Deno.test("the fault matrix runs on every backend", () => {
  assert.deepEqual([...BACKENDS].sort(), ["subprocess", "worker"]);
});
