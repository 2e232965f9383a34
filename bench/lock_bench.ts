// Lock throughput beside Python's multiprocessing, in one run:
// - uncontended acquireSync()+release() pairs per second (Lock and RLock);
// - 2 children x 50k locked increments of a shared Value, timed from the
//   moment both children are ready (and from start() to join()).
//
//   deno run -A bench/lock_bench.ts
import { Barrier } from "../barrier.ts";
import { Lock, RLock } from "../lock.ts";
import { Process } from "../process.ts";
import { Value } from "../shared.ts";
import { median, report, runPython } from "./_report.ts";

/**
 * A child: `times` increments of `counter`, each under its lock, held with
 * acquireSync()/release() (as Python's `with` does) or with `using`.
 */
export async function work(
  counter: Value<"i">,
  times: number,
  start: Barrier,
  scoped: boolean,
): Promise<void> {
  await start.wait();
  const lock = counter.getLock();
  if (scoped) {
    for (let i = 0; i < times; i++) {
      using _ = lock.holdSync();
      counter.value += 1;
    }
    return;
  }
  for (let i = 0; i < times; i++) {
    lock.acquireSync();
    try {
      counter.value += 1;
    } finally {
      lock.release();
    }
  }
}

function pairsPerSecond(lock: Lock | RLock, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    lock.release();
  }
  return n / ((performance.now() - start) / 1000);
}

/** ms from both children ready to both joined, and from start() to join(). */
async function counterMs(
  times: number,
  scoped = false,
): Promise<[number, number]> {
  const counter = new Value("i", 0);
  const start = new Barrier(3);
  const began = performance.now();
  const children = [0, 1].map(() =>
    new Process({ target: work, args: [counter, times, start, scoped] })
  );
  for (const p of children) p.start();
  await start.wait();
  const ready = performance.now();
  for (const p of children) await p.join();
  const end = performance.now();
  if (counter.value !== 2 * times) {
    throw new Error(`counter is ${counter.value}, expected ${2 * times}`);
  }
  return [end - ready, end - began];
}

if (import.meta.main) {
  const runs = 5;
  const n = 1_000_000;
  pairsPerSecond(new Lock(), n); // warm up
  const lock = median(
    Array.from({ length: runs }, () => pairsPerSecond(new Lock(), n)),
  );
  const rlock = median(
    Array.from({ length: runs }, () => pairsPerSecond(new RLock(), n)),
  );
  await counterMs(1000); // warm up
  const counts: [number, number][] = [];
  for (let i = 0; i < runs; i++) counts.push(await counterMs(50_000));
  const counter = median(counts.map((c) => c[0]));
  const counterTotal = median(counts.map((c) => c[1]));
  const scopedRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    scopedRuns.push((await counterMs(50_000, true))[0]);
  }
  const scoped = median(scopedRuns);
  const py = await runPython("lock_bench.py", [String(runs)]);

  report("Locks: uncontended pairs, and 2 x 50k locked increments", [
    { what: "Lock acquireSync+release", value: lock, unit: "pairs/s" },
    {
      what: "Python Lock acquire+release",
      value: py.lock_pairs_per_s,
      unit: "pairs/s",
    },
    { what: "RLock acquireSync+release", value: rlock, unit: "pairs/s" },
    {
      what: "Python RLock acquire+release",
      value: py.rlock_pairs_per_s,
      unit: "pairs/s",
    },
    { what: "2 x 50k increments (from ready)", value: counter, unit: "ms" },
    {
      what: "Python 2 x 50k increments (from ready)",
      value: py.counter_ms,
      unit: "ms",
    },
    {
      what: "2 x 50k increments (start to join)",
      value: counterTotal,
      unit: "ms",
    },
    {
      what: "Python 2 x 50k increments (start to join)",
      value: py.counter_total_ms,
      unit: "ms",
    },
    {
      what: "2 x 50k increments held with `using` (from ready)",
      value: scoped,
      unit: "ms",
    },
  ], [{
    what: "Lock pairs/s: ours / Python",
    value: lock / py.lock_pairs_per_s,
    target: ">= 1",
    met: lock >= py.lock_pairs_per_s,
  }, {
    what: "RLock pairs/s: ours / Python",
    value: rlock / py.rlock_pairs_per_s,
    target: "(reported)",
    met: true,
  }, {
    what: "increments time: ours / Python (from ready)",
    value: counter / py.counter_ms,
    target: "<= 1",
    met: counter <= py.counter_ms,
  }, {
    what: "increments time: ours / Python (start to join)",
    value: counterTotal / py.counter_total_ms,
    target: "(reported)",
    met: true,
  }, {
    what: "increments time with `using`: ours / Python (from ready)",
    value: scoped / py.counter_ms,
    target: "(reported)",
    met: true,
  }]);
}
