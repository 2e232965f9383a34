// Subprocess children on shared memory (FFI) against the proxy, the worker
// backend and Python (spawn and fork), in one run:
// - uncontended Lock acquireSync()+release() pairs per second;
// - 2 subprocess children x 50k locked increments of a Value, from both
//   ready to both joined (the proxy does fewer, scaled to 50k);
// - a child's 200k element writes of a shared Array, timed in the child;
// - 100k small ints through a Queue from a subprocess child, from its
//   first item to the parent's last get;
// - 100k small ints through one Queue from 4 subprocess producers to 4
//   subprocess consumers (each item got exactly once: counts and sums are
//   checked), from all ready to all joined.
// The proxy's numbers come from this script run again with
// MP_SHARED_MEMORY=proxy (`--proxy`), which prints them as JSON.
//
//   deno run -A bench/shm_bench.ts
import { Barrier } from "../barrier.ts";
import { Lock } from "../lock.ts";
import { type Backend, Process } from "../process.ts";
import { Queue } from "../queue.ts";
import { SharedArray, Value } from "../shared.ts";
import { usesSegments } from "../_shm/memory.ts";
import { median, report, runPython } from "./_report.ts";

/** A child: `times` increments of `counter` under its lock. */
export async function work(
  counter: Value<"i">,
  times: number,
  start: Barrier,
): Promise<void> {
  await start.wait();
  const lock = counter.getLock();
  for (let i = 0; i < times; i++) {
    lock.acquireSync();
    try {
      counter.value += 1;
    } finally {
      lock.release();
    }
  }
}

/** A child: writes every element of `arr`, and how long that took. */
export function writeElements(arr: SharedArray<"i32">, took: Value<"d">): void {
  const n = arr.length;
  const start = performance.now();
  for (let i = 0; i < n; i++) arr.set(i, i);
  took.value = performance.now() - start;
}

/** A child: a start mark, then `count` ints. */
export async function produce(q: Queue<number>, count: number): Promise<void> {
  await q.put(-1);
  for (let i = 0; i < count; i++) await q.put(i);
}

async function queueRate(backend: Backend, count: number): Promise<number> {
  const q = new Queue<number>();
  const p = new Process({ target: produce, args: [q, count], backend });
  p.start();
  await q.get();
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await q.get();
  const seconds = (performance.now() - start) / 1000;
  await p.join();
  if (sum !== count * (count - 1) / 2) throw new Error(`wrong sum ${sum}`);
  return count / seconds;
}

/** A child: puts `count` ints from `from` on. */
export async function mpmcProduce(
  q: Queue<number>,
  from: number,
  count: number,
  start: Barrier,
): Promise<void> {
  await start.wait();
  for (let i = from; i < from + count; i++) await q.put(i);
}

/** A child: gets ints until a -1, adding their count and sum to `tally`. */
export async function mpmcConsume(
  q: Queue<number>,
  tally: SharedArray<"d">,
  slot: number,
  start: Barrier,
): Promise<void> {
  await start.wait();
  let count = 0;
  let sum = 0;
  for (;;) {
    const item = await q.get();
    if (item === -1) break;
    count++;
    sum += item;
  }
  tally.set(2 * slot, count);
  tally.set(2 * slot + 1, sum);
}

/** Items per second from 4 subprocess producers to 4 subprocess consumers. */
async function mpmcRate(count: number): Promise<number> {
  const q = new Queue<number>();
  const tally = new SharedArray("d", 8);
  const start = new Barrier(9);
  const share = count / 4;
  const producers = [0, 1, 2, 3].map((i) =>
    new Process({
      target: mpmcProduce,
      args: [q, i * share, share, start],
      backend: "subprocess",
    })
  );
  const consumers = [0, 1, 2, 3].map((i) =>
    new Process({
      target: mpmcConsume,
      args: [q, tally, i, start],
      backend: "subprocess",
    })
  );
  for (const p of [...producers, ...consumers]) p.start();
  await start.wait();
  const ready = performance.now();
  for (const p of producers) await p.join();
  for (let i = 0; i < 4; i++) await q.put(-1);
  for (const p of consumers) await p.join();
  const seconds = (performance.now() - ready) / 1000;
  let got = 0;
  let sum = 0;
  for (let i = 0; i < 4; i++) {
    got += tally.get(2 * i) as number;
    sum += tally.get(2 * i + 1) as number;
  }
  if (got !== count || sum !== count * (count - 1) / 2) {
    throw new Error(`got ${got} items summing to ${sum}`);
  }
  return count / seconds;
}

function pairsPerSecond(n: number): number {
  const lock = new Lock();
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    lock.release();
  }
  return n / ((performance.now() - start) / 1000);
}

async function counterMs(backend: Backend, times: number): Promise<number> {
  const counter = new Value("i", 0);
  const start = new Barrier(3);
  const children = [0, 1].map(() =>
    new Process({ target: work, args: [counter, times, start], backend })
  );
  for (const p of children) p.start();
  await start.wait();
  const ready = performance.now();
  for (const p of children) await p.join();
  const end = performance.now();
  if (counter.value !== 2 * times) {
    throw new Error(`counter is ${counter.value}, expected ${2 * times}`);
  }
  return end - ready;
}

async function arrayMs(backend: Backend, n: number): Promise<number> {
  const arr = new SharedArray("i32", n);
  const took = new Value("d", 0);
  const p = new Process({ target: writeElements, args: [arr, took], backend });
  p.start();
  await p.join();
  if (arr.get(n - 1) !== n - 1) throw new Error("the writes were not seen");
  return took.value;
}

async function medianOf(
  runs: number,
  fn: () => Promise<number> | number,
): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) values.push(await fn());
  return median(values);
}

/** What one mode measures. */
interface Measured {
  lock_pairs_per_s: number;
  subprocess_counter_ms: number;
  worker_counter_ms: number;
  subprocess_array_ms: number;
  worker_array_ms: number;
  subprocess_queue_per_s: number;
  subprocess_mpmc_per_s: number;
}

const COUNT = 50_000;
const ELEMENTS = 200_000;
// Through the proxy every operation is a round trip: fewer, scaled up.
const PROXY_COUNT = 1_000;
const PROXY_ELEMENTS = 4_000;
const ITEMS = 100_000;
const PROXY_ITEMS = 2_000;

async function measure(runs: number): Promise<Measured> {
  const proxied = !usesSegments();
  const count = proxied ? PROXY_COUNT : COUNT;
  const elements = proxied ? PROXY_ELEMENTS : ELEMENTS;
  pairsPerSecond(1_000_000); // warm up
  const lock = await medianOf(runs, () => pairsPerSecond(1_000_000));
  await counterMs("subprocess", 100); // warm up
  const subCounter = await medianOf(runs, () => counterMs("subprocess", count));
  const workerCounter = await medianOf(runs, () => counterMs("worker", COUNT));
  const subArray = await medianOf(runs, () => arrayMs("subprocess", elements));
  const workerArray = await medianOf(runs, () => arrayMs("worker", ELEMENTS));
  const items = proxied ? PROXY_ITEMS : ITEMS;
  const queue = await medianOf(runs, () => queueRate("subprocess", items));
  const mpmc = await medianOf(runs, () => mpmcRate(items));
  return {
    lock_pairs_per_s: lock,
    subprocess_counter_ms: subCounter * COUNT / count,
    worker_counter_ms: workerCounter,
    subprocess_array_ms: subArray * ELEMENTS / elements,
    worker_array_ms: workerArray,
    subprocess_queue_per_s: queue,
    subprocess_mpmc_per_s: mpmc,
  };
}

if (import.meta.main) {
  const runs = 5;
  if (Deno.args[0] === "--proxy") {
    console.log(JSON.stringify(await measure(3)));
    Deno.exit(0);
  }
  if (!usesSegments()) {
    console.log("FFI is not available here: run with -A (or --allow-ffi)");
    Deno.exit(1);
  }
  const ffi = await measure(runs);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--proxy"],
    env: { MP_SHARED_MEMORY: "proxy" },
    stderr: "inherit",
  }).output();
  const proxy: Measured = JSON.parse(
    new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!,
  );
  const spawn = await runPython("shm_bench.py", ["spawn", String(runs)]);
  const fork = await runPython("shm_bench.py", ["fork", String(runs)]);

  report("Subprocess children on shared memory (FFI) and behind the proxy", [
    {
      what: "Lock pairs, FFI memory",
      value: ffi.lock_pairs_per_s,
      unit: "pairs/s",
    },
    {
      what: "Lock pairs, SharedArrayBuffer (proxy run)",
      value: proxy.lock_pairs_per_s,
      unit: "pairs/s",
    },
    {
      what: "Python Lock pairs (spawn)",
      value: spawn.lock_pairs_per_s,
      unit: "pairs/s",
    },
    {
      what: "subprocess 2 x 50k increments, FFI",
      value: ffi.subprocess_counter_ms,
      unit: "ms",
    },
    {
      what: `subprocess 2 x 50k increments, proxy (2 x ${PROXY_COUNT} scaled)`,
      value: proxy.subprocess_counter_ms,
      unit: "ms",
    },
    {
      what: "worker 2 x 50k increments, FFI memory",
      value: ffi.worker_counter_ms,
      unit: "ms",
    },
    {
      what: "worker 2 x 50k increments, SharedArrayBuffer",
      value: proxy.worker_counter_ms,
      unit: "ms",
    },
    {
      what: "Python 2 x 50k increments (spawn)",
      value: spawn.counter_ms,
      unit: "ms",
    },
    {
      what: "Python 2 x 50k increments (fork)",
      value: fork.counter_ms,
      unit: "ms",
    },
    {
      what: "subprocess 200k Array writes, FFI",
      value: ffi.subprocess_array_ms,
      unit: "ms",
    },
    {
      what: `subprocess 200k Array writes, proxy (${PROXY_ELEMENTS} scaled)`,
      value: proxy.subprocess_array_ms,
      unit: "ms",
    },
    {
      what: "worker 200k Array writes, FFI memory",
      value: ffi.worker_array_ms,
      unit: "ms",
    },
    {
      what: "worker 200k Array writes, SharedArrayBuffer",
      value: proxy.worker_array_ms,
      unit: "ms",
    },
    {
      what: "Python 200k Array writes (spawn)",
      value: spawn.array_ms,
      unit: "ms",
    },
    {
      what: "Python 200k Array writes (fork)",
      value: fork.array_ms,
      unit: "ms",
    },
    {
      what: "subprocess Queue 100k ints 1 -> 1, FFI",
      value: ffi.subprocess_queue_per_s,
      unit: "items/s",
    },
    {
      what: `subprocess Queue, proxy (${PROXY_ITEMS} items)`,
      value: proxy.subprocess_queue_per_s,
      unit: "items/s",
    },
    {
      what: "Python Queue 100k ints (spawn)",
      value: spawn.queue_per_s,
      unit: "items/s",
    },
    {
      what: "Python Queue 100k ints (fork)",
      value: fork.queue_per_s,
      unit: "items/s",
    },
    {
      what: "subprocess Queue 100k ints 4 x 4, FFI",
      value: ffi.subprocess_mpmc_per_s,
      unit: "items/s",
    },
    {
      what: `subprocess Queue 4 x 4, proxy (${PROXY_ITEMS} items)`,
      value: proxy.subprocess_mpmc_per_s,
      unit: "items/s",
    },
    {
      what: "Python Queue 100k ints 4 x 4 (spawn)",
      value: spawn.mpmc_per_s,
      unit: "items/s",
    },
    {
      what: "Python Queue 100k ints 4 x 4 (fork)",
      value: fork.mpmc_per_s,
      unit: "items/s",
    },
  ], [{
    what: "subprocess Queue items/s, FFI / Python spawn",
    value: ffi.subprocess_queue_per_s / spawn.queue_per_s,
    target: ">= 1",
    met: ffi.subprocess_queue_per_s >= spawn.queue_per_s,
  }, {
    what: "subprocess Queue 4 x 4 items/s, FFI / Python spawn",
    value: ffi.subprocess_mpmc_per_s / spawn.mpmc_per_s,
    target: ">= 1",
    met: ffi.subprocess_mpmc_per_s >= spawn.mpmc_per_s,
  }, {
    what: "subprocess increments, FFI / Python spawn",
    value: ffi.subprocess_counter_ms / spawn.counter_ms,
    target: "<= 1",
    met: ffi.subprocess_counter_ms <= spawn.counter_ms,
  }, {
    what: "subprocess increments, FFI / Python fork",
    value: ffi.subprocess_counter_ms / fork.counter_ms,
    target: "<= 1",
    met: ffi.subprocess_counter_ms <= fork.counter_ms,
  }, {
    what: "Lock pairs/s, FFI memory / Python",
    value: ffi.lock_pairs_per_s / spawn.lock_pairs_per_s,
    target: ">= 1",
    met: ffi.lock_pairs_per_s >= spawn.lock_pairs_per_s,
  }, {
    what: "subprocess Array writes, FFI / worker (SharedArrayBuffer)",
    value: ffi.subprocess_array_ms / proxy.worker_array_ms,
    target: "<= 2",
    met: ffi.subprocess_array_ms <= 2 * proxy.worker_array_ms,
  }, {
    what: "subprocess increments, proxy / FFI",
    value: proxy.subprocess_counter_ms / ffi.subprocess_counter_ms,
    target: "(reported)",
    met: true,
  }]);
}
