// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestBarrier, ported (see _util.ts for how). CPython adapted it
// from test/lock_tests.py; its DummyList is a counter in shared memory
// (DummyList in _util.ts) and its Bunch a set of processes that each run a
// function of _barrier_targets.ts.
import assert from "node:assert/strict";
import type { Barrier } from "../barrier.ts";
import { type Context, getContext } from "../context.ts";
import type { Event } from "../event.ts";
import type { Process } from "../process.ts";
import {
  appendTrue,
  bunchTask,
  DEFAULT_TIMEOUT,
  multipass,
  N,
  setActionResults,
  testAbortAndResetF,
  testAbortF,
  testActionF,
  testDefaultTimeoutF,
  testResetF,
  testThousandF,
  testTimeoutF,
  testWaitReturnF,
} from "./_barrier_targets.ts";
import { BACKENDS, type DummyList, len, testScope } from "./_util.ts";

/** A function the parties of a test run, with its arguments. */
// deno-lint-ignore no-explicit-any
type PartyFunction = (...args: any[]) => Promise<void>;

/** CPython's Bunch: `n` processes running the same function. */
class Bunch {
  n: number;
  started: DummyList;
  finished: DummyList;
  #canExit: Event;
  #processes: Process[] = [];

  constructor(
    mp: Context,
    f: PartyFunction,
    args: unknown[],
    n: number,
    waitBeforeExit = false,
  ) {
    this.n = n;
    this.started = new mp.Value("i", 0);
    this.finished = new mp.Value("i", 0);
    this.#canExit = new mp.Event();
    if (!waitBeforeExit) this.#canExit.set();

    for (let i = 0; i < n; i++) {
      const p = new mp.Process({
        target: bunchTask,
        args: [f.name, args, this.started, this.finished, this.#canExit],
      });
      p.daemon = true;
      p.start();
      this.#processes.push(p);
    }
  }

  /**
   * CPython polls `len(self.finished)` with 10 ms sleeps; here the test
   * waits for the processes to end (each ends once finished, its canExit
   * being set), then checks the count.
   */
  async waitForFinished(): Promise<void> {
    await this.close();
    assert.equal(await len(this.finished), this.n);
  }

  doFinish(): void {
    this.#canExit.set();
  }

  async close(): Promise<void> {
    for (const p of this.#processes) await p.join();
  }
}

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  /** setUp and tearDown around a test: `self.barrier`, aborted at the end. */
  const barrierTest = (
    name: string,
    fn: (barrier: Barrier) => Promise<void>,
    options: { ignore?: boolean } = {},
  ): void => {
    Deno.test({
      name: `${backend}: _TestBarrier.${name}`,
      ...options,
      async fn() {
        await using _ = testScope();
        const barrier = new mp.Barrier(N, { timeout: DEFAULT_TIMEOUT });
        try {
          await fn(barrier);
        } finally {
          barrier.abort();
        }
      },
    });
  };

  const dummyList = (): DummyList => new mp.Value("i", 0);

  const runThreads = async (
    f: PartyFunction,
    args: unknown[],
  ): Promise<void> => {
    const b = new Bunch(mp, f, args, N - 1);
    try {
      await f(...args);
      await b.waitForFinished();
    } finally {
      await b.close();
    }
  };

  /** Test that a barrier is passed in lockstep */
  const testBarrier = async (barrier: Barrier, passes = 1): Promise<void> => {
    const results = [dummyList(), dummyList()];
    await runThreads(multipass, [barrier, results, passes]);
  };

  barrierTest("test_barrier", (barrier) => testBarrier(barrier));

  // Test that a barrier works for 10 consecutive runs
  barrierTest("test_barrier_10", (barrier) => testBarrier(barrier, 10));

  // test the return value from barrier.wait
  barrierTest("test_wait_return", async (barrier) => {
    const queue = new mp.Queue<number>();
    await runThreads(testWaitReturnF, [barrier, queue]);
    const results = [];
    for (let i = 0; i < N; i++) results.push(await queue.get());
    assert.equal(results.filter((r) => r === 0).length, 1);
    queue.close();
  });

  // Test the 'action' callback
  barrierTest("test_action", async () => {
    const results = dummyList();
    setActionResults(results); // AppendTrue(results), in this process
    const barrier = new mp.Barrier(N, { action: appendTrue });
    await runThreads(testActionF, [barrier, results]);
    assert.equal(await len(results), 1);
  });

  // Test that an abort will put the barrier in a broken state
  barrierTest("test_abort", async (barrier) => {
    const results1 = dummyList();
    const results2 = dummyList();
    await runThreads(testAbortF, [barrier, results1, results2]);
    assert.equal(await len(results1), 0);
    assert.equal(await len(results2), N - 1);
    assert.ok(barrier.broken);
  });

  // Test that a 'reset' on a barrier frees the waiting threads
  barrierTest("test_reset", async (barrier) => {
    const results1 = dummyList();
    const results2 = dummyList();
    const results3 = dummyList();
    await runThreads(testResetF, [barrier, results1, results2, results3]);
    assert.equal(await len(results1), 0);
    assert.equal(await len(results2), N - 1);
    assert.equal(await len(results3), N);
  });

  // Test that a barrier can be reset after being broken.
  barrierTest("test_abort_and_reset", async (barrier) => {
    const results1 = dummyList();
    const results2 = dummyList();
    const results3 = dummyList();
    const barrier2 = new mp.Barrier(N);

    await runThreads(testAbortAndResetF, [
      barrier,
      barrier2,
      results1,
      results2,
      results3,
    ]);
    assert.equal(await len(results1), 0);
    assert.equal(await len(results2), N - 1);
    assert.equal(await len(results3), N);
  });

  // Test wait(timeout)
  barrierTest("test_timeout", async (barrier) => {
    const results = dummyList();
    await runThreads(testTimeoutF, [barrier, results]);
    assert.equal(await len(results), barrier.parties);
  });

  // Test the barrier's default timeout
  barrierTest("test_default_timeout", async () => {
    const barrier = new mp.Barrier(N, { timeout: 500 });
    const results = dummyList();
    await runThreads(testDefaultTimeoutF, [barrier, results]);
    assert.equal(await len(results), barrier.parties);
  });

  barrierTest("test_single_thread", async () => {
    const b = new mp.Barrier(1);
    await b.wait();
    await b.wait();
  });

  barrierTest("test_thousand", async (barrier) => {
    const passes = 1000;
    const lock = new mp.Lock();
    const [conn, childConn] = mp.Pipe<number>({ duplex: false });
    const processes: Process[] = [];
    try {
      for (let j = 0; j < N; j++) {
        const p = new mp.Process({
          target: testThousandF,
          args: [barrier, passes, childConn, lock],
        });
        p.start();
        processes.push(p);
      }

      for (let i = 0; i < passes; i++) {
        for (let j = 0; j < N; j++) assert.equal(await conn.recv(), i);
      }
    } finally {
      // CPython's tearDown (barrier.abort()) runs before its cleanups join.
      barrier.abort();
      for (const p of processes) await p.join();
    }
  }, {});
}
