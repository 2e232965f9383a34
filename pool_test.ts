// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { BACKENDS, eventually } from "./_test_util.ts";
import { ProcessError } from "./errors.ts";
import { Pool } from "./pool.ts";
import { activeChildren, cpuCount } from "./process.ts";
import { Value } from "./shared.ts";

import { blocker } from "./testdata/pool_targets.ts";

const TARGETS = new URL("./testdata/pool_targets.ts", import.meta.url);
const fn = (name: string) => ({ module: TARGETS, export: name });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

function poolWorkers(): number {
  return activeChildren().filter((p) => p.name.startsWith("PoolWorker-"))
    .length;
}

// Exported by the test module itself: found from the call stack.
export function triple(x: number): number {
  return 3 * x;
}

// Named, but not exported: a worker cannot import it.
function notExported(x: number): number {
  return x;
}

for (const backend of BACKENDS) {
  const pool = (options = {}) =>
    new Pool({ backend, processes: 2, ...options });

  Deno.test(`${backend}: map returns every result in order, whatever the chunksize`, async () => {
    await using p = pool();
    const want = range(100).map((x) => x + 1);
    assert.deepEqual(await p.map(fn("inc"), range(100)), want);
    for (const chunksize of [1, 7, 100, 1000]) {
      assert.deepEqual(await p.map(fn("inc"), range(100), { chunksize }), want);
    }
  });

  Deno.test(`${backend}: a chunk larger than one message still runs on one worker`, async () => {
    await using p = pool();
    const size = 3 * 8192 + 5;
    const pids = await p.map(fn("pidOf"), range(2 * size), {
      chunksize: size,
    });
    assert.equal(new Set(pids.slice(0, size)).size, 1);
    assert.equal(new Set(pids.slice(size)).size, 1);
  });

  Deno.test(`${backend}: an argument keeps an array's named properties, as the structured clone does`, async () => {
    await using p = pool();
    const tagged = Object.assign([1, 2], { tag: "kept" });
    const want = { items: [1, 2], named: { tag: "kept" } };
    assert.deepEqual(await p.apply(fn("describeArray"), [tagged]), want);
    assert.deepEqual(await p.map(fn("describeArray"), [tagged]), [want]);
  });

  Deno.test(`${backend}: map runs on the items as they were when it was called`, async () => {
    await using p = pool();
    const items = range(20_000);
    const results = p.map(fn("inc"), items);
    items.fill(-1);
    assert.deepEqual(await results, range(20_000).map((x) => x + 1));
  });

  Deno.test(`${backend}: map takes any iterable and async task functions`, async () => {
    await using p = pool();
    function* gen() {
      yield* [1, 2, 3];
    }
    async function* agen() {
      yield* [4, 5];
    }
    assert.deepEqual(await p.map(fn("inc"), new Set([1, 2]).values()), [2, 3]);
    assert.deepEqual(await p.map(fn("inc"), gen()), [2, 3, 4]);
    assert.deepEqual(await p.map(fn("inc"), agen()), [5, 6]);
    assert.deepEqual(
      await p.map(fn("slowSquare"), range(20), { chunksize: 3 }),
      range(20).map((x) => x * x),
    );
  });

  Deno.test(`${backend}: values of every cloneable kind go and come back intact`, async () => {
    await using p = pool();
    const values: unknown[] = [
      0,
      -0,
      NaN,
      Infinity,
      2 ** 53 + 2,
      "text",
      "",
      true,
      null,
      undefined,
      10n ** 30n,
      [1, [2, "3"]],
      { a: 1, nested: { b: [null] } },
      // What JSON would change, where a small message travels as JSON.
      { missing: undefined },
      // deno-lint-ignore no-sparse-arrays
      [1, , 3],
      { "\u{0}key": "\ud800" },
      new Map<unknown, unknown>([["k", { v: 1 }]]),
      new Set([1, "two"]),
      new Date(0),
      /re/g,
      new Uint8Array([1, 2, 3]),
      new Error("as a value"),
    ];
    // Many at once (travelling in bulk) and one at a time.
    const many = [...values, ...values, ...values];
    assert.deepEqual(await p.map(fn("identity"), many), many);
    assert.deepEqual(
      await p.map(fn("identity"), many, { chunksize: 1 }),
      many,
    );
    const numbers = range(100).map((x) => x / 3 - 7);
    assert.deepEqual(await p.map(fn("identity"), numbers), numbers);
    for (const value of values) {
      assert.deepEqual(await p.apply(fn("identity"), [value]), value);
    }
  });

  Deno.test(`${backend}: primitives of this library in tasks arrive as working handles`, async () => {
    await using p = pool({ processes: 1 });
    const runs = new Value("i32", 0);
    const items = range(40).map((x) => [runs, x] as [Value<"i32">, number]);
    assert.deepEqual(
      await p.starmap(fn("countRun"), items, { chunksize: 40 }),
      range(40),
    );
    assert.equal(runs.value, 40);
  });

  Deno.test(`${backend}: starmap spreads each item as arguments`, async () => {
    await using p = pool();
    assert.deepEqual(
      await p.starmap(fn("add"), [[1, 2], [3, 4], [5, 6]], { chunksize: 2 }),
      [3, 7, 11],
    );
  });

  Deno.test(`${backend}: a function exported by the calling module is found from the stack`, async () => {
    await using p = pool();
    assert.deepEqual(await p.map(triple, [1, 2, 3]), [3, 6, 9]);
    assert.deepEqual(await collect(p.imap(triple, [4])), [12]);
    assert.equal(await p.apply(triple, [5]), 15);
  });

  Deno.test(`${backend}: imap yields in order although later tasks finish first`, async () => {
    await using p = pool();
    const want = range(30).map((x) => x * x);
    assert.deepEqual(await collect(p.imap(fn("slowSquare"), range(30))), want);
    assert.deepEqual(
      await collect(p.imap(fn("slowSquare"), range(30), { chunksize: 4 })),
      want,
    );
  });

  Deno.test(`${backend}: imap reads its input lazily and stops with the loop`, async () => {
    await using p = pool();
    let read = 0;
    function* endless() {
      for (let i = 0;; i++) {
        read++;
        yield i;
      }
    }
    const seen: number[] = [];
    for await (const y of p.imap<number, number>(fn("inc"), endless())) {
      seen.push(y);
      if (seen.length === 50) break;
    }
    assert.deepEqual(seen, range(50).map((x) => x + 1));
    assert.ok(read < 10_000, `read ${read} items of an endless input`);
    // The pool goes on after the loop was left.
    assert.deepEqual(await p.map(fn("inc"), [1]), [2]);
  });

  Deno.test(`${backend}: an input that throws ends imap and map with its error`, async () => {
    await using p = pool();
    function* failing() {
      yield* [1, 2, 3];
      throw new SyntaxError("bad input");
    }
    const seen: number[] = [];
    await assert.rejects(
      async () => {
        for await (const y of p.imap<number, number>(fn("inc"), failing())) {
          seen.push(y);
        }
      },
      { name: "SyntaxError", message: "bad input" },
    );
    assert.deepEqual(seen, [2, 3, 4]);
    // As Python's: the chunk the input was filling when it threw never runs.
    const chunked = p.imap<number, number>(fn("inc"), failing(), {
      chunksize: 2,
    });
    assert.deepEqual(await chunked.next(), { done: false, value: 2 });
    assert.deepEqual(await chunked.next(), { done: false, value: 3 });
    await assert.rejects(chunked.next(), SyntaxError);
    await assert.rejects(p.map(fn("inc"), failing()), SyntaxError);
    assert.deepEqual(await p.map(fn("inc"), [1]), [2]);
  });

  Deno.test(`${backend}: imapUnordered yields every result exactly once`, async () => {
    await using p = pool();
    for (const chunksize of [1, 3]) {
      const got = await collect(
        p.imapUnordered<number, number>(fn("slowSquare"), range(40), {
          chunksize,
        }),
      );
      assert.equal(got.length, 40);
      assert.deepEqual(
        [...got].sort((a, b) => a - b),
        range(40).map((x) => x * x),
      );
    }
    const asyncInput = (async function* () {
      yield* range(10);
    })();
    const got = await collect(
      p.imapUnordered<number, number>(fn("inc"), asyncInput),
    );
    assert.deepEqual(got.sort((a, b) => a - b), range(10).map((x) => x + 1));
  });

  Deno.test(`${backend}: a task's error rejects map with its class name, message and the worker's stack`, async () => {
    await using p = pool();
    await assert.rejects(p.map(fn("failOn"), range(10)), (error: Error) => {
      assert.equal(error.name, "ValueError");
      assert.equal(error.message, "no 3 here");
      assert.match(error.stack ?? "", /pool_targets\.ts/);
      return true;
    });
    await assert.rejects(p.apply(fn("rejectWith"), ["async no"]), {
      name: "RangeError",
      message: "async no",
    });
    await assert.rejects(
      p.starmap(fn("failOn"), [[1, 1]]),
      { name: "ValueError", message: "no 1 here" },
    );
    // The pool is still usable.
    assert.deepEqual(await p.map(fn("inc"), [1, 2]), [2, 3]);
  });

  Deno.test(`${backend}: imap yields the results before a failing task, then throws its error`, async () => {
    await using p = pool();
    const seen: number[] = [];
    await assert.rejects(
      async () => {
        for await (const y of p.imap<number, number>(fn("failOn"), range(10))) {
          seen.push(y);
        }
      },
      { name: "ValueError", message: "no 3 here" },
    );
    assert.deepEqual(seen, [0, 1, 2]);
  });

  Deno.test(`${backend}: a worker that exits mid-task fails that task and is replaced`, async () => {
    await using p = pool({ processes: 1 });
    const dying = p.apply(fn("dieWith"), [7]);
    const later = p.map(fn("inc"), range(10), { chunksize: 1 });
    await assert.rejects(dying, (error: Error) => {
      assert.ok(error instanceof ProcessError);
      assert.match(error.message, /PoolWorker-\d+ \(pid \d+\)/);
      assert.match(error.message, /exit code 7/);
      return true;
    });
    assert.deepEqual(await later, range(10).map((x) => x + 1));
    assert.equal(await p.apply(fn("add"), [1, 1]), 2);
  });

  Deno.test(`${backend}: an uncaught error outside a task ends the worker; its task fails with that error`, async () => {
    await using p = pool({ processes: 1 });
    await assert.rejects(p.apply(fn("throwOutside")), (error: Error) => {
      assert.ok(error instanceof ProcessError);
      assert.match(error.message, /exit code 1/);
      assert.match(error.message, /thrown from a timer/);
      assert.equal((error.cause as Error).message, "thrown from a timer");
      return true;
    });
    assert.deepEqual(await p.map(fn("inc"), [1, 2, 3]), [2, 3, 4]);
  });

  Deno.test(`${backend}: a worker killed from outside fails its task; later tasks succeed`, async () => {
    await using p = pool({ processes: 1 });
    const b = blocker();
    const blocked = p.apply(fn("signalAndBlock"), b.args);
    const later = p.map(fn("inc"), range(5), { chunksize: 1 });
    await b.started.wait();
    const worker = activeChildren().find((child) => child.pid === b.pid.value);
    assert.ok(worker, "the worker running the task is a child");
    worker.kill();
    await assert.rejects(blocked, (error: Error) => {
      assert.ok(error instanceof ProcessError);
      assert.match(error.message, /exit code -9/);
      return true;
    });
    assert.deepEqual(await later, range(5).map((x) => x + 1));
  });

  Deno.test(`${backend}: maxTasksPerChild replaces workers after that many tasks`, async () => {
    await using p = pool({ processes: 1, maxTasksPerChild: 2 });
    const pids = await p.map(fn("pidOf"), range(6), { chunksize: 3 });
    assert.equal(new Set(pids).size, 3, `pids: ${pids}`);
    for (let i = 0; i < 6; i += 2) {
      assert.equal(pids[i], pids[i + 1]);
      assert.notEqual(pids[i], pids[i + 2]);
    }
    const again = await p.map(fn("pidOf"), range(2));
    assert.ok(!pids.includes(again[0]), "a retired worker took no more tasks");
  });

  Deno.test(`${backend}: an aborted signal cancels tasks not yet sent`, async () => {
    await using p = pool({ processes: 1 });
    const b = blocker();
    const blocked = p.apply(fn("signalAndBlock"), b.args);
    await b.started.wait();
    const runs = new Value("i32", 0);
    const controller = new AbortController();
    const items = range(20).map((x) => [runs, x] as [Value<"i32">, number]);
    const cancelled = p.starmap(fn("countRun"), items, {
      chunksize: 1,
      signal: controller.signal,
    });
    const reason = new Error("stop");
    controller.abort(reason);
    await assert.rejects(cancelled, (error) => error === reason);
    b.release.set();
    await blocked;
    // Tasks run in order on the one worker: once this one ran, every task
    // sent before it ran too.
    assert.equal(await p.apply(fn("add"), [1, 2]), 3);
    assert.ok(runs.value < 20, `${runs.value} of 20 cancelled tasks ran`);
  });

  Deno.test(`${backend}: an already aborted signal rejects at once; imap throws its reason`, async () => {
    await using p = pool();
    const signal = AbortSignal.abort(new RangeError("already"));
    await assert.rejects(p.map(fn("inc"), [1], { signal }), {
      name: "RangeError",
      message: "already",
    });
    await assert.rejects(collect(p.imap(fn("inc"), [1], { signal })), {
      message: "already",
    });
    const controller = new AbortController();
    const iterator = p.imap(fn("inc"), range(1000), {
      signal: controller.signal,
    });
    assert.deepEqual(await iterator.next(), { done: false, value: 1 });
    controller.abort();
    await assert.rejects(iterator.next(), { name: "AbortError" });
  });

  Deno.test(`${backend}: a closed or terminated pool takes no tasks; join needs close first`, async () => {
    const p = pool();
    await assert.rejects(p.join(), ProcessError);
    p.close();
    await assert.rejects(p.map(fn("inc"), [1]), {
      name: "ProcessError",
      message: /closed/,
    });
    assert.throws(() => p.imap(fn("inc"), [1]), ProcessError);
    await assert.rejects(p.apply(fn("inc"), [1]), ProcessError);
    let failed: unknown;
    await assert.rejects(
      p.applyAsync(fn("inc"), [1], { errorCallback: (e) => failed = e }),
      ProcessError,
    );
    assert.ok(failed instanceof ProcessError);
    await p.join();
    assert.equal(poolWorkers(), 0);

    const q = pool();
    q.terminate();
    await assert.rejects(q.map(fn("inc"), [1]), {
      name: "ProcessError",
      message: /terminated/,
    });
    await q.join();
    assert.equal(poolWorkers(), 0);
  });

  Deno.test(`${backend}: close lets given tasks finish; terminate fails them`, async () => {
    const p = pool();
    const running = p.map(fn("slowSquare"), range(20), { chunksize: 1 });
    p.close();
    await p.join();
    assert.deepEqual(await running, range(20).map((x) => x * x));

    const q = pool({ processes: 1 });
    const b = blocker();
    const blocked = q.apply(fn("signalAndBlock"), b.args);
    const waiting = q.map(fn("inc"), range(10));
    await b.started.wait();
    q.terminate();
    await assert.rejects(blocked, {
      name: "ProcessError",
      message: /terminated/,
    });
    await assert.rejects(waiting, {
      name: "ProcessError",
      message: /terminated/,
    });
    await q.join();
  });

  Deno.test(`${backend}: await using terminates the pool`, async () => {
    {
      await using p = pool();
      assert.equal(poolWorkers(), 2);
      assert.deepEqual(await p.map(fn("inc"), [1]), [2]);
    }
    assert.equal(poolWorkers(), 0);
  });

  Deno.test(`${backend}: empty input gives empty results`, async () => {
    await using p = pool();
    assert.deepEqual(await p.map(fn("inc"), []), []);
    assert.deepEqual(await p.starmap(fn("add"), []), []);
    assert.deepEqual(await collect(p.imap(fn("inc"), [])), []);
    assert.deepEqual(await collect(p.imapUnordered(fn("inc"), [])), []);
  });

  Deno.test(`${backend}: apply and applyAsync return the result and call back`, async () => {
    await using p = pool();
    assert.equal(await p.apply(fn("add"), [2, 3]), 5);
    const results: number[] = [];
    const errors: unknown[] = [];
    const options = {
      callback: (r: number) => results.push(r),
      errorCallback: (e: unknown) => errors.push(e),
    };
    assert.equal(await p.applyAsync(fn("add"), [4, 5], options), 9);
    assert.deepEqual(results, [9]);
    assert.deepEqual(errors, []);
    await assert.rejects(
      p.applyAsync(fn("failOn"), [3], options),
      { name: "ValueError" },
    );
    assert.deepEqual(results, [9]);
    assert.equal((errors[0] as Error).message, "no 3 here");
    // An async result that nobody awaits is no unhandled rejection.
    p.applyAsync(fn("failOn"), [3]);
    assert.equal(await p.apply(fn("inc"), [0]), 1);
  });

  Deno.test(`${backend}: the initializer runs in each worker before its tasks`, async () => {
    await using p = pool({
      initializer: fn("initialize"),
      initArgs: ["hello"],
    });
    const states = await p.map(fn("initState"), range(20), { chunksize: 1 });
    for (const state of states) {
      assert.match(state as string, /^hello in PoolWorker-\d+$/);
    }
  });

  Deno.test(`${backend}: a failing initializer fails tasks clearly instead of hanging`, async () => {
    await using p = pool({ processes: 1, initializer: fn("failingInit") });
    await assert.rejects(p.map(fn("inc"), range(4)), (error: Error) => {
      assert.ok(error instanceof ProcessError);
      assert.match(error.message, /before it was ready/);
      assert.match(error.message, /the initializer failed/);
      return true;
    });
  });

  Deno.test(`${backend}: task functions that a worker cannot find fail with what to do`, async () => {
    await using p = pool();
    await assert.rejects(p.map((x: number) => x, [1]), {
      name: "TypeError",
      message: /named function exported by its module/,
    });
    assert.throws(() => p.imap((x: number) => x, [1]), TypeError);
    await assert.rejects(p.map(notExported, [1]), {
      name: "TypeError",
      message: /"notExported" is not exported by .*pool_test\.ts/,
    });
    await assert.rejects(
      p.apply({ module: TARGETS, export: "missing" }),
      { name: "TypeError", message: /"missing" is not exported/ },
    );
    // deno-lint-ignore no-explicit-any
    await assert.rejects(p.map(42 as any, [1]), TypeError);
  });

  Deno.test(`${backend}: a pool worker cannot start a pool (no fork bomb from an unguarded module)`, async () => {
    await using p = pool({ processes: 1 });
    await assert.rejects(p.apply(fn("startPool")), {
      name: "ProcessError",
      message: /if \(import\.meta\.main\)/,
    });
  });

  Deno.test(`${backend}: values that cannot be cloned fail only their own task`, async () => {
    await using p = pool();
    await assert.rejects(p.map(fn("inc"), [1, () => 2, 3] as never[]), {
      name: "TypeError",
      message: /Task 1 cannot be sent/,
    });
    const error = await p.map(fn("unclonableResult"), [0, 1, 2]).then(
      () => assert.fail("the map resolved"),
      (error: Error) => error,
    );
    assert.equal(error.name, "TypeError");
    assert.match(error.message, /result cannot be sent/);
    // As Python's MaybeEncodingError.exc: the clone's own error.
    assert.equal((error.cause as Error).name, "DataCloneError");
    assert.deepEqual(await p.map(fn("unclonableResult"), [0, 2]), [0, 2]);
  });

  Deno.test(`${backend}: bad options are RangeErrors`, async () => {
    assert.throws(() => new Pool({ backend, processes: 0 }), RangeError);
    assert.throws(() => new Pool({ backend, processes: 1.5 }), RangeError);
    assert.throws(
      () => new Pool({ backend, maxTasksPerChild: 0 }),
      RangeError,
    );
    await using p = pool();
    await assert.rejects(p.map(fn("inc"), [1], { chunksize: 0 }), RangeError);
    assert.throws(() => p.imap(fn("inc"), [1], { chunksize: -1 }), RangeError);
  });
}

Deno.test("a large pool starts its workers a few at a time, each ready one starting the next, until all run", async () => {
  // Starting a Worker blocks the starting thread until the new one has its
  // runtime: many at once on few CPUs blocked the event loop for seconds.
  const most = Math.max(2, 2 * cpuCount());
  await using p = new Pool({ processes: 3 * most });
  assert.equal(poolWorkers(), most);
  assert.ok(await eventually(() => poolWorkers() === 3 * most, 60_000));
  assert.deepEqual(
    await p.map(fn("inc"), range(10)),
    range(10).map((x) => x + 1),
  );
  assert.equal(poolWorkers(), 3 * most);
});

Deno.test("a program that never closes its pool still ends", async () => {
  const script = new URL("./testdata/pool_forgotten.ts", import.meta.url);
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script.pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  assert.equal(new TextDecoder().decode(stdout).trim(), "[ 2, 3, 4 ]");
});
