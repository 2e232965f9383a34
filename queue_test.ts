// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { BACKENDS, startChild, SUBPROCESS_PRIMITIVES } from "./_test_util.ts";
import { Empty, Full, ProcessError } from "./errors.ts";
import { Pipe } from "./pipe.ts";
import type { Process } from "./process.ts";
import { JoinableQueue, Queue, SimpleQueue } from "./queue.ts";
import { shapes } from "./testdata/queue_targets.ts";

const TARGETS = new URL("./testdata/queue_targets.ts", import.meta.url);

Deno.test("items come out in the order they went in, with their shapes", async () => {
  const q = new Queue<unknown>();
  for (const item of shapes()) await q.put(item);
  assert.equal(q.qsize(), shapes().length);
  for (const item of shapes()) assert.deepEqual(await q.get(), item);
  assert.equal(q.empty(), true);
});

Deno.test("the ring wraps around and grows without losing order", () => {
  const q = new Queue<string>();
  let next = 0;
  let expected = 0;
  // Sizes up to 40 KiB, with gets in between, so items wrap around the end
  // of the first 64 KiB and the ring grows while wrapped.
  for (let round = 0; round < 60; round++) {
    for (let i = 0; i < 5; i++, next++) {
      q.putNowait(`${next}:` + "y".repeat((next * 7919) % 40_000));
    }
    for (let i = 0; i < 3; i++, expected++) {
      assert.equal(q.getNowait().split(":")[0], String(expected));
    }
  }
  while (!q.empty()) {
    assert.equal(q.getNowait().split(":")[0], String(expected++));
  }
  assert.equal(expected, next);
});

Deno.test("qsize(), empty() and full() follow puts and gets", () => {
  const q = new Queue<number>(2);
  assert.equal(q.maxsize, 2);
  assert.deepEqual([q.qsize(), q.empty(), q.full()], [0, true, false]);
  q.putNowait(1);
  assert.deepEqual([q.qsize(), q.empty(), q.full()], [1, false, false]);
  q.putNowait(2);
  assert.deepEqual([q.qsize(), q.empty(), q.full()], [2, false, true]);
  assert.throws(() => q.putNowait(3), Full);
  assert.equal(q.getNowait(), 1);
  assert.equal(q.getNowait(), 2);
  assert.throws(() => q.getNowait(), Empty);
  assert.equal(new Queue(-1).maxsize, 0, "zero or less is unbounded");
  assert.throws(() => new Queue(NaN), TypeError);
});

Deno.test("a put waits while the queue is full, until a get makes room", async () => {
  const q = new Queue<number>(1);
  await q.put(1);
  let done = false;
  const pending = q.put(2).then(() => done = true);
  for (let i = 0; i < 10; i++) await Promise.resolve();
  assert.equal(done, false);
  assert.equal(q.qsize(), 1);
  assert.equal(await q.get(), 1);
  await pending;
  assert.equal(await q.get(), 2);
});

Deno.test("a get waits until an item is put", async () => {
  const q = new Queue<string>();
  const pending = q.get();
  q.putNowait("late");
  assert.equal(await pending, "late");
});

Deno.test("timeouts: Empty and Full after the timeout; bad timeouts are RangeErrors", async () => {
  const q = new Queue<number>(1);
  await assert.rejects(q.get({ timeout: 10 }), Empty);
  await assert.rejects(q.get({ block: false }), Empty);
  assert.throws(() => q.getSync({ timeout: 10 }), Empty);
  assert.throws(() => q.getSync({ block: false }), Empty);
  q.putSync(1);
  await assert.rejects(q.put(2, { timeout: 10 }), Full);
  await assert.rejects(q.put(2, { block: false }), Full);
  assert.throws(() => q.putSync(2, { timeout: 0 }), Full);
  await assert.rejects(q.put(2, { timeout: -1 }), RangeError);
  await assert.rejects(q.get({ timeout: NaN }), RangeError);
  assert.throws(() => q.getSync({ timeout: -5 }), RangeError);
  assert.equal(q.qsize(), 1);
});

Deno.test("an item that cannot be cloned is a TypeError; the queue keeps working", async () => {
  const q = new Queue<unknown>();
  q.putNowait("before");
  const [a, b] = Pipe();
  const bad = [
    () => 1,
    Symbol("s"),
    { method() {} },
    [1, new WeakMap()],
    { conn: a },
    new Map([["q", new Queue()]]),
  ];
  for (const item of bad) {
    await assert.rejects(q.put(item), TypeError);
    assert.throws(() => q.putNowait(item), TypeError);
    assert.throws(() => q.putSync(item), TypeError);
  }
  await assert.rejects(q.put({ conn: a }), /send it over a Pipe/);
  assert.equal(a.closed, false, "the connection was not taken");
  assert.equal(q.qsize(), 1);
  q.putNowait("after");
  assert.equal(await q.get(), "before");
  assert.equal(await q.get(), "after");
  a.close();
  b.close();
});

Deno.test("close() makes puts and gets here throw and ends a waiting for await", async () => {
  const q = new Queue<number>();
  q.putNowait(1);
  const got: number[] = [];
  const loop = (async () => {
    for await (const item of q) got.push(item);
  })();
  q.putNowait(2);
  await waitUntil(() => got.length === 2);
  const waiting = new Queue<number>();
  const pending = waiting.get();
  waiting.close();
  await assert.rejects(pending, ProcessError);
  q.close();
  await loop;
  assert.deepEqual(got, [1, 2]);
  assert.equal(q.closed, true);
  await assert.rejects(q.put(3), /closed/);
  assert.throws(() => q.putNowait(3), ProcessError);
  assert.throws(() => q.putSync(3), ProcessError);
  await assert.rejects(q.get(), ProcessError);
  assert.throws(() => q.getNowait(), ProcessError);
  assert.throws(() => q.getSync(), ProcessError);
  assert.throws(() => q.empty(), /Cannot empty\(\): the queue was closed/);
  assert.equal(q.qsize(), 0);
  assert.equal(q.full(), false);
});

/** Yields to the event loop until `done()` (a get's promise settles in between). */
async function waitUntil(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("JoinableQueue: taskDone() counts, throws when called too often, join() waits", async () => {
  const q = new JoinableQueue<number>();
  await q.join();
  q.putNowait(1);
  q.putNowait(2);
  let joined = false;
  const join = q.join().then(() => joined = true);
  await q.get();
  q.taskDone();
  await q.get();
  for (let i = 0; i < 10; i++) await Promise.resolve();
  assert.equal(joined, false, "one task is not done yet");
  q.taskDone();
  await join;
  assert.throws(() => q.taskDone(), RangeError);
});

Deno.test("SimpleQueue: put, get, empty, close", async () => {
  const q = new SimpleQueue<number[]>();
  assert.equal(q.empty(), true);
  q.put([1]);
  q.put([2]);
  assert.equal(q.empty(), false);
  assert.deepEqual(await q.get(), [1]);
  assert.deepEqual(await q.get(), [2]);
  assert.throws(() => q.put([() => 1] as unknown as number[]), TypeError);
  q.close();
  assert.throws(() => q.put([3]), ProcessError);
  await assert.rejects(q.get(), ProcessError);
});

for (const backend of BACKENDS) {
  const start = (name: string, args: unknown[]) =>
    startChild(TARGETS, backend, name, args);
  const joinOk = async (p: Process) => {
    assert.equal(await p.join(), 0, p.error?.stack ?? p.error?.message);
  };

  Deno.test(`${backend}: after a child's join(), everything it put can be got`, async () => {
    const q = new Queue<number>();
    const p = start("putRange", [q, 0, 5]);
    await joinOk(p);
    assert.equal(q.qsize(), 5);
    const got: number[] = [];
    while (!q.empty()) got.push(await q.get());
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
  });

  Deno.test(`${backend}: a child that ends right after putting 10k items loses none`, async () => {
    const q = new Queue<number>();
    const p = start("putNowaitThenEnd", [q, 10_000]);
    await joinOk(p);
    assert.equal(q.qsize(), 10_000);
    for (let i = 0; i < 10_000; i++) assert.equal(q.getNowait(), i);
    assert.equal(q.empty(), true);
  });

  Deno.test(`${backend}: a get in the parent waits for a child's put`, async () => {
    const q = new Queue<number>();
    const pending = q.get({ timeout: 60_000 });
    const p = start("putRange", [q, 42, 1]);
    assert.equal(await pending, 42);
    await joinOk(p);
  });

  Deno.test(`${backend}: maxsize makes a child's puts wait for the parent's gets`, async () => {
    for (const target of ["putRange", "putSyncRange"]) {
      const q = new Queue<number>(2);
      const args = target === "putRange" ? [q, 0, 50] : [q, 50];
      const p = start(target, args);
      for (let i = 0; i < 50; i++) {
        assert.ok(q.qsize() <= 2);
        assert.equal(await q.get(), i);
      }
      await joinOk(p);
      assert.equal(q.empty(), true);
    }
  });

  // Behind the proxy (MP_SHARED_MEMORY=proxy) each item is a round trip to
  // the parent: fewer, so that the run stays short.
  const perProducer = backend === "subprocess" &&
      SUBPROCESS_PRIMITIVES === "proxy"
    ? 2_500
    : 25_000;
  const items = `${perProducer / 1000}k`;
  Deno.test(`${backend}: 4 producers x 4 consumers x ${items} items, each received exactly once`, async () => {
    const producers = 4;
    const total = producers * perProducer;
    const q = new Queue<number>(1000);
    const results = new Queue<number[]>();
    const consumers = [0, 1, 2, 3].map((i) =>
      start(i % 2 ? "consumeSync" : "consume", [q, results])
    );
    const makers = [0, 1, 2, 3].map((i) =>
      start("putRange", [q, i * perProducer, perProducer])
    );
    for (const p of makers) await joinOk(p);
    for (let i = 0; i < 4; i++) await q.put(-1);
    for (const p of consumers) await joinOk(p);
    const seen = new Uint8Array(total);
    let count = 0;
    let sum = 0;
    for (let i = 0; i < 4; i++) {
      for (const item of await results.get()) {
        seen[item]++;
        count++;
        sum += item;
      }
    }
    assert.equal(count, total);
    assert.equal(sum, (total - 1) * total / 2);
    const wrong = seen.findIndex((n) => n !== 1);
    assert.equal(wrong, -1, `item ${wrong} was received ${seen[wrong]} times`);
    assert.equal(q.empty(), true);
    assert.equal(results.empty(), true);
  });

  Deno.test(`${backend}: a producer terminated right after its puts loses none`, async () => {
    const q = new Queue<number>();
    const ready = new Queue<string>();
    const p = start("putThenIdle", [q, 5000, ready]);
    assert.equal(await ready.get(), "done");
    p.terminate();
    assert.equal(await p.join(), -15);
    assert.equal(q.qsize(), 5000);
    for (let i = 0; i < 5000; i++) assert.equal(q.getNowait(), i);
    assert.equal(q.empty(), true);
    q.putNowait(-7);
    assert.equal(await q.get(), -7);
  });

  Deno.test(`${backend}: JoinableQueue.join() waits for several workers' taskDone()`, async () => {
    const q = new JoinableQueue<number | null>();
    const done = new Queue<number>();
    const workers = [0, 1, 2].map(() => start("work", [q, done]));
    for (let i = 1; i <= 300; i++) await q.put(i);
    await q.join();
    assert.equal(done.qsize(), 300, "every item was processed before join()");
    let sum = 0;
    while (!done.empty()) sum += done.getNowait();
    assert.equal(sum, 300 * 301 / 2);
    for (const _ of workers) await q.put(null);
    await q.join();
    for (const p of workers) await joinOk(p);
    assert.throws(() => q.taskDone(), RangeError);
  });

  Deno.test(`${backend}: a queue inside a nested object reaches the child`, async () => {
    const results = new Queue<string>();
    const config = { deep: { queues: new Map([["results", results]]) } };
    const p = start("putNested", [config, "found it"]);
    await joinOk(p);
    assert.equal(await results.get(), "found it");
  });

  Deno.test(`${backend}: items of every shape cross processes`, async () => {
    const q = new Queue<unknown>();
    const p = start("putShapes", [q]);
    for (const item of shapes()) assert.deepEqual(await q.get(), item);
    await joinOk(p);
  });

  Deno.test(`${backend}: SimpleQueue between processes`, async () => {
    const input = new SimpleQueue<string>();
    const output = new SimpleQueue<string>();
    const p = start("relay", [input, output]);
    input.put("echo");
    assert.equal(await output.get(), "echo");
    assert.equal(await output.get(), "echo");
    await joinOk(p);
    assert.equal(output.empty(), true);
  });
}

Deno.test("worker: a child terminated while blocked in getSync() never takes an item", async () => {
  const q = new Queue<number>();
  const ticks = new Int32Array(new SharedArrayBuffer(8));
  const child = startChild(
    new URL("./testdata/busy_targets.ts", import.meta.url),
    "worker",
    "getBlocked",
    [q, ticks],
  );
  try {
    while (Atomics.load(ticks, 0) === 0) {
      const r = Atomics.waitAsync(ticks, 0, 0, 5_000);
      if (r.async) await r.value;
    }
    child.terminate();
    assert.equal(await child.join(), -15);
    // Deno's terminate() does not interrupt a blocked thread: were the child
    // still waiting, it would take this item as soon as it is put.
    q.putNowait(7);
    assert.equal(await q.get({ timeout: 5_000 }), 7);
    assert.equal(Atomics.load(ticks, 1), 0, "the terminated child got an item");
  } finally {
    child.terminate();
    await child.join();
    q.close();
  }
});
