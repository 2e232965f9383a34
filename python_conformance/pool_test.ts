// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestPool, ported (see _util.ts for how). As in CPython, one
// Pool(4) serves the whole class (setUpClass, tearDownClass): the tests are
// the steps of one Deno test per backend, in CPython's order.
// Python's `map_async(...).get()` is the promise `map()` returns; `kwargs`
// of apply are positional arguments.
//
// Not ported: test_release_task_refs and test_resource_warning (Python's
// garbage collector and ResourceWarning), test_enter (JavaScript's `using`
// has no hook on entering a block, where Python's with raises).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { ProcessError, TimeoutError } from "../errors.ts";
import type { Pool } from "../pool.ts";
import {
  exceptionThrowingGenerator,
  int,
  mul,
  raiseLargeValuerror,
  SayWhenError,
  sqr,
  testTraceback,
  testWrappedException,
  timeSleep,
} from "./_pool_targets.ts";
import {
  BACKENDS,
  LONG_TIMEOUT,
  SHORT_TIMEOUT,
  testScope,
  TIMEOUT1,
  TIMEOUT2,
  within,
} from "./_util.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const square = (x: number) => x * x;
const zip = (a: number[], b: number[]) =>
  a.map((x, i) => [x, b[i]] as [number, number]);
const numeric = (a: number, b: number) => a - b;

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  /** The tests of the class, run in order as steps of one test. */
  const tests: {
    name: string;
    fn: (pool: Pool) => Promise<void>;
    ignore?: boolean;
  }[] = [];
  const poolTest = (
    name: string,
    fn: (pool: Pool) => Promise<void>,
    options: { ignore?: boolean } = {},
  ): void => void tests.push({ name, fn, ...options });

  poolTest("test_apply", async (pool) => {
    assert.equal(await pool.apply(sqr, [5]), sqr(5));
    assert.equal(await pool.apply(sqr, [3]), sqr(3)); // {'x': 3}
  });

  poolTest("test_map", async (pool) => {
    assert.deepEqual(await pool.map(sqr, range(10)), range(10).map(square));
    assert.deepEqual(
      await pool.map(sqr, range(100), { chunksize: 20 }),
      range(100).map(square),
    );
  });

  poolTest("test_starmap", async (pool) => {
    let tuples = zip(range(10), range(10).reverse());
    assert.deepEqual(
      await pool.starmap(mul, tuples),
      tuples.map(([x, y]) => mul(x, y)),
    );
    tuples = zip(range(100), range(100).reverse());
    assert.deepEqual(
      await pool.starmap(mul, tuples, { chunksize: 20 }),
      tuples.map(([x, y]) => mul(x, y)),
    );
  });

  poolTest("test_starmap_async", async (pool) => {
    const tuples = zip(range(100), range(100).reverse());
    assert.deepEqual(
      await pool.starmap(mul, tuples),
      tuples.map(([x, y]) => mul(x, y)),
    );
  });

  poolTest("test_map_async", async (pool) => {
    assert.deepEqual(await pool.map(sqr, range(10)), range(10).map(square));
  });

  poolTest("test_map_async_callbacks", async (pool) => {
    const callArgs: unknown[] = [];
    const push = (x: unknown) => void callArgs.push(x);
    await pool.map(int, ["1"]).then(push, push);
    assert.equal(1, callArgs.length);
    assert.deepEqual([1], callArgs[0]);
    await pool.map(int, ["a"]).then(push, push);
    assert.equal(2, callArgs.length);
    assert.equal((callArgs[1] as Error).name, "ValueError");
  });

  poolTest("test_map_unplicklable", async (pool) => {
    // Issue #19425 -- failure to pickle should not cause a hang
    class A {
      reduce = () => {
        throw new Error("cannot pickle");
      };
    }
    await assert.rejects(
      pool.map(sqr, new Array(10).fill(new A()) as number[]),
      TypeError,
    );
  });

  poolTest("test_map_chunksize", async (pool) => {
    try {
      await within(pool.map(sqr, [], { chunksize: 1 }), TIMEOUT1);
    } catch {
      assert.fail("pool.map_async with chunksize stalled on null list");
    }
  });

  poolTest("test_map_handle_iterable_exception", async (pool) => {
    // SayWhenError seen at the very first of the iterable
    await assert.rejects(
      pool.map(sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 }),
      SayWhenError,
    );
    // again, make sure it's reentrant
    await assert.rejects(
      pool.map(sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 }),
      SayWhenError,
    );

    await assert.rejects(
      pool.map(sqr, exceptionThrowingGenerator(10, 3), { chunksize: 1 }),
      SayWhenError,
    );

    class SpecialIterable implements IterableIterator<number> {
      [Symbol.iterator]() {
        return this;
      }
      next(): IteratorResult<number> {
        throw new SayWhenError();
      }
      get length() {
        return 1;
      }
    }
    await assert.rejects(
      pool.map(sqr, new SpecialIterable(), { chunksize: 1 }),
      SayWhenError,
    );
    await assert.rejects(
      pool.map(sqr, new SpecialIterable(), { chunksize: 1 }),
      SayWhenError,
    );
  });

  poolTest("test_async", async (pool) => {
    const res = pool.applyAsync(sqr, [7, TIMEOUT1]);
    assert.equal(await res, 49);
  });

  poolTest("test_async_timeout", async () => {
    const p = new mp.Pool({ processes: 3 });
    try {
      // apply_async(...).get(timeout): a Future's result(timeout).
      const res = p.submit(sqr, 6, TIMEOUT2 + SHORT_TIMEOUT);
      await assert.rejects(res.result(TIMEOUT2), TimeoutError);
    } finally {
      p.terminate();
      await p.join();
    }
  });

  poolTest("test_imap", async (pool) => {
    let it = pool.imap(sqr, range(10));
    assert.deepEqual(await Array.fromAsync(it), range(10).map(square));

    it = pool.imap(sqr, range(10));
    for (let i = 0; i < 10; i++) assert.equal((await it.next()).value, i * i);
    assert.ok((await it.next()).done); // StopIteration

    it = pool.imap(sqr, range(1000), { chunksize: 100 });
    for (let i = 0; i < 1000; i++) assert.equal((await it.next()).value, i * i);
    assert.ok((await it.next()).done);
  });

  poolTest("test_imap_handle_iterable_exception", async (pool) => {
    // SayWhenError seen at the very first of the iterable
    let it = pool.imap(sqr, exceptionThrowingGenerator(1, -1), {
      chunksize: 1,
    });
    await assert.rejects(it.next(), SayWhenError);
    // again, make sure it's reentrant
    it = pool.imap(sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 });
    await assert.rejects(it.next(), SayWhenError);

    it = pool.imap(sqr, exceptionThrowingGenerator(10, 3), { chunksize: 1 });
    for (let i = 0; i < 3; i++) assert.equal((await it.next()).value, i * i);
    await assert.rejects(it.next(), SayWhenError);

    // SayWhenError seen at start of problematic chunk's results
    it = pool.imap(sqr, exceptionThrowingGenerator(20, 7), { chunksize: 2 });
    for (let i = 0; i < 6; i++) assert.equal((await it.next()).value, i * i);
    await assert.rejects(it.next(), SayWhenError);
    it = pool.imap(sqr, exceptionThrowingGenerator(20, 7), { chunksize: 4 });
    for (let i = 0; i < 4; i++) assert.equal((await it.next()).value, i * i);
    await assert.rejects(it.next(), SayWhenError);
  });

  poolTest("test_imap_unordered", async (pool) => {
    let it = pool.imapUnordered(sqr, range(10));
    assert.deepEqual(
      (await Array.fromAsync(it)).sort(numeric),
      range(10).map(square),
    );

    it = pool.imapUnordered(sqr, range(1000), { chunksize: 100 });
    assert.deepEqual(
      (await Array.fromAsync(it)).sort(numeric),
      range(1000).map(square),
    );
  });

  poolTest("test_imap_unordered_handle_iterable_exception", async (pool) => {
    // SayWhenError seen at the very first of the iterable
    let it = pool.imapUnordered(sqr, exceptionThrowingGenerator(1, -1), {
      chunksize: 1,
    });
    await assert.rejects(it.next(), SayWhenError);
    // again, make sure it's reentrant
    it = pool.imapUnordered(sqr, exceptionThrowingGenerator(1, -1), {
      chunksize: 1,
    });
    await assert.rejects(it.next(), SayWhenError);

    it = pool.imapUnordered(sqr, exceptionThrowingGenerator(10, 3), {
      chunksize: 1,
    });
    let expectedValues = range(10).map(square);
    await assert.rejects(async () => {
      // imap_unordered makes it difficult to anticipate the SayWhenError
      for (let i = 0; i < 10; i++) {
        const value = (await it.next()).value;
        assert.ok(expectedValues.includes(value));
        expectedValues.splice(expectedValues.indexOf(value), 1);
      }
    }, SayWhenError);

    it = pool.imapUnordered(sqr, exceptionThrowingGenerator(20, 7), {
      chunksize: 2,
    });
    expectedValues = range(20).map(square);
    await assert.rejects(async () => {
      for (let i = 0; i < 20; i++) {
        const value = (await it.next()).value;
        assert.ok(expectedValues.includes(value));
        expectedValues.splice(expectedValues.indexOf(value), 1);
      }
    }, SayWhenError);
  });

  poolTest("test_make_pool", async () => {
    assert.throws(() => new mp.Pool({ processes: -1 }), RangeError);
    assert.throws(() => new mp.Pool({ processes: 0 }), RangeError);

    const p = new mp.Pool({ processes: 3 });
    try {
      assert.equal(3, p.processes);
    } finally {
      p.close();
      await p.join();
    }
  });

  poolTest("test_terminate", async () => {
    // Simulate slow tasks which take "forever" to complete
    const sleepTime = LONG_TIMEOUT;

    const p = new mp.Pool({ processes: 3 });
    const args = new Array(10_000).fill(sleepTime);
    const result = p.map(timeSleep, args, { chunksize: 1 });
    result.catch(() => {}); // it never completes
    // CPython sleeps 0.2 s here to "give some tasks a chance to start";
    // dropped: terminate() must work however far the tasks got.
    p.terminate();
    await p.join();
  });

  poolTest("test_empty_iterable", async () => {
    // See Issue 12157
    const p = new mp.Pool({ processes: 1 });

    assert.deepEqual(await p.map(sqr, []), []);
    assert.deepEqual(await Array.fromAsync(p.imap(sqr, [])), []);
    assert.deepEqual(await Array.fromAsync(p.imapUnordered(sqr, [])), []);
    assert.deepEqual(await p.map(sqr, []), []); // map_async(...).get()

    p.close();
    await p.join();
  });

  poolTest("test_context", async () => {
    const L = range(10);
    const expected = L.map((i) => sqr(i));
    const pool = new mp.Pool({ processes: 2 });
    {
      await using p = pool;
      const r = p.map(sqr, L);
      assert.deepEqual(await r, expected);
    }
    await pool.join();
    await assert.rejects(pool.map(sqr, L), ProcessError);
  });

  poolTest("test_traceback", async () => {
    // We want ensure that the traceback from the child process is
    // contained in the traceback raised in the main process.
    let exc: Error | undefined;
    let pool = new mp.Pool({ processes: 1 });
    {
      await using p = pool;
      try {
        await p.apply(testTraceback);
      } catch (e) {
        exc = e as Error;
      }
      if (!exc) assert.fail("expected RuntimeError");
    }
    await pool.join();
    assert.equal(exc.name, "RuntimeError");
    assert.equal(exc.message, "123"); // exc.args == (123,)
    // Python's RemoteTraceback holds the child's traceback, with the line
    // that raised; here the child's stack names the function that threw.
    assert.match(exc.stack!, /testTraceback/);

    // CPython then prints it with sys.excepthook: not ported.

    // _helper_reraises_exception should not make the error a remote
    // exception
    exc = undefined;
    pool = new mp.Pool({ processes: 1 });
    {
      await using p = pool;
      try {
        await p.map(sqr, exceptionThrowingGenerator(1, -1), { chunksize: 1 });
      } catch (e) {
        exc = e as Error;
      }
      if (!exc) assert.fail("expected SayWhenError");
      assert.ok(exc instanceof SayWhenError);
      assert.equal(exc.cause, undefined);
    }
    await pool.join();
  });

  poolTest("test_wrapped_exception", async () => {
    // Issue #20980: Should not wrap exception when using thread pool
    const pool = new mp.Pool({ processes: 1 });
    {
      await using p = pool;
      await assert.rejects(p.apply(testWrappedException), {
        name: "RuntimeError",
      });
    }
    await pool.join();
  });

  poolTest("test_map_no_failfast", async () => {
    // Issue #23992: the fail-fast behaviour when an exception is raised
    // during map() would make Pool.join() deadlock, because a worker
    // process would fill the result queue (after the result handler thread
    // terminated, hence not draining it anymore).

    const tStart = performance.now();

    await assert.rejects(async () => {
      await using p = new mp.Pool({ processes: 2 });
      try {
        await p.map(raiseLargeValuerror, [0, 1000]);
      } finally {
        // CPython sleeps 0.5 s first, to let the results pile up.
        p.close();
        await p.join();
      }
    }, { name: "ValueError" });

    // check that we indeed waited for all jobs
    assert.ok(performance.now() - tStart > 900);
  });

  Deno.test({
    name: `${backend}: _TestPool`,
    async fn(t) {
      await using _ = testScope();
      const pool = new mp.Pool({ processes: 4 }); // setUpClass
      try {
        for (const { name, fn, ignore } of tests) {
          await t.step({
            name: `${backend}: _TestPool.${name}`,
            ignore,
            fn: () => fn(pool),
          });
        }
      } finally {
        // tearDownClass
        pool.terminate();
        await pool.join();
      }
    },
  });
}
