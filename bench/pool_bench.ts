// Pool against the best JavaScript worker pool (piscina, run under Deno)
// and Python's multiprocessing.Pool, in one run:
//
// 1. 100k tiny tasks (x => x + 1) on 2 workers: tasks per second. Our map
//    sends chunks (Python's default chunksize rule); piscina sends one task
//    at a time; our imap with chunksize 1 is shown too, for a pool that does
//    not batch.
// 2. A CPU-bound map, 64 tasks of about 5 ms: speed-up over running them
//    one after another in the main thread.
// 3. A map of 1e6 tiny tasks while a 5 ms timer runs: its throughput, and
//    the largest lag of the timer, the longest stretch for which the pool
//    kept the event loop from other work.
//
//   deno run -A bench/pool_bench.ts
//
// Pool workers import this module to find `inc` and `spin`, so piscina is
// imported only where it runs: loaded in a pool worker, it keeps a thread
// busy there and halves the worker's speed.
import { Pool } from "../pool.ts";
import { median, report, runPython, timeRuns } from "./_report.ts";
import { largestTimerLag } from "../_test_util.ts";

export function inc(x: number): number {
  return x + 1;
}

/** Busy work: `rounds` steps of an integer hash. */
export function spin(rounds: number): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < rounds; i++) {
    h ^= i;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** How many rounds of `spin` take about `ms` here. */
function calibrate(ms: number): number {
  let rounds = 100_000;
  for (;;) {
    const start = performance.now();
    spin(rounds);
    const took = performance.now() - start;
    if (took > 20) return Math.round(rounds * ms / took);
    rounds *= 2;
  }
}

const TINY = 100_000;
const PROCESSES = 2;
const MILLION = 1_000_000;

async function tinyOurs(pool: Pool, items: number[]): Promise<number> {
  await pool.map(inc, items.slice(0, 10_000));
  const times = await timeRuns(
    async () => {
      const results = await pool.map(inc, items);
      if (results[TINY - 1] !== TINY) throw new Error("wrong result");
    },
    7,
    2,
  );
  return TINY / median(times) * 1000;
}

async function oneAtATimeOurs(pool: Pool, count: number): Promise<number> {
  const items = Array.from({ length: count }, (_, i) => i);
  const times = await timeRuns(
    async () => {
      let n = 0;
      for await (const _ of pool.imap(inc, items)) n++;
      if (n !== count) throw new Error("missing results");
    },
    3,
    1,
  );
  return count / median(times) * 1000;
}

async function tinyPiscina(items: number[]): Promise<number> {
  // Inline, as deno.json maps no dependency: the library has none.
  // deno-lint-ignore no-import-prefix
  const { Piscina } = await import("npm:piscina@^5");
  const piscina = new Piscina({
    filename: new URL("./_piscina_worker.ts", import.meta.url).href,
    minThreads: PROCESSES,
    maxThreads: PROCESSES,
  });
  try {
    const times = await timeRuns(
      async () => {
        const results = await Promise.all(items.map((x) => piscina.run(x)));
        if (results[TINY - 1] !== TINY) throw new Error("wrong result");
      },
      3,
      1,
    );
    return TINY / median(times) * 1000;
  } finally {
    await piscina.destroy();
  }
}

interface MillionMap {
  /** The median of each run's largest timer lag, in ms. */
  lag: number;
  /** The median throughput, in tasks per second. */
  perSecond: number;
}

async function millionMap(pool: Pool): Promise<MillionMap> {
  const items = Array.from({ length: MILLION }, (_, i) => i);
  await pool.map(inc, items);
  const lags: number[] = [];
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    let results: number[] = [];
    const { lag, took } = await largestTimerLag(async () => {
      results = await pool.map(inc, items);
    });
    if (results[MILLION - 1] !== MILLION) throw new Error("wrong result");
    lags.push(lag);
    rates.push(MILLION / took * 1000);
  }
  return { lag: median(lags), perSecond: median(rates) };
}

interface CpuTimes {
  serial: number;
  pool: number;
  /** Two bare Workers, each running half the tasks: what the machine allows. */
  bare: number;
  /** The median of each round's serial / pool. */
  speedup: number;
  /** The median of each round's serial / bare. */
  bareSpeedup: number;
}

/**
 * Serial, pool and bare Workers take turns, round after round, so that a
 * change in the machine's load (other programs) weighs on all three alike.
 */
async function cpuBound(pool: Pool): Promise<CpuTimes> {
  const rounds = calibrate(5);
  const tasks = Array.from({ length: 64 }, () => rounds);
  const source = URL.createObjectURL(
    new Blob([bareWorkerSource()], { type: "text/javascript" }),
  );
  const workers = Array.from(
    { length: PROCESSES },
    () => new Worker(source, { type: "module" }),
  );
  const half = tasks.length / PROCESSES;
  const bareRun = () =>
    Promise.all(workers.map((worker) =>
      new Promise((resolve) => {
        worker.onmessage = resolve;
        worker.postMessage({ count: half, rounds });
      })
    ));
  const time = async (fn: () => unknown) => {
    const start = performance.now();
    await fn();
    return performance.now() - start;
  };
  try {
    await pool.map(spin, tasks.slice(0, 4));
    await bareRun();
    const serial: number[] = [];
    const parallel: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 7; i++) {
      serial.push(await time(() => tasks.map(spin)));
      parallel.push(await time(() => pool.map(spin, tasks)));
      bare.push(await time(bareRun));
    }
    return {
      serial: median(serial),
      pool: median(parallel),
      bare: median(bare),
      speedup: median(serial.map((s, i) => s / parallel[i])),
      bareSpeedup: median(serial.map((s, i) => s / bare[i])),
    };
  } finally {
    for (const worker of workers) worker.terminate();
    URL.revokeObjectURL(source);
  }
}

/** The source of a bare Worker that runs `count` spins when told. */
function bareWorkerSource(): string {
  return `${spin.toString()}
self.onmessage = (e) => {
  let x = 0;
  for (let i = 0; i < e.data.count; i++) x ^= spin(e.data.rounds);
  self.postMessage(x);
};`;
}

if (import.meta.main) {
  const items = Array.from({ length: TINY }, (_, i) => i);
  await using pool = new Pool({ processes: PROCESSES });
  const ours = await tinyOurs(pool, items);
  const oursOne = await oneAtATimeOurs(pool, 20_000);
  const million = await millionMap(pool);
  const cpu = await cpuBound(pool);
  const piscina = await tinyPiscina(items);
  const python = await runPython("pool_bench.py", [String(TINY), "5"]);
  const speedup = cpu.speedup;
  report(`Pool, ${PROCESSES} workers`, [
    { what: "ours: map, 100k tiny tasks", value: ours, unit: "tasks/s" },
    {
      what: "ours: imap chunksize 1 (one task a message), 20k",
      value: oursOne,
      unit: "tasks/s",
    },
    {
      what: "ours: map, 1e6 tiny tasks (a 5 ms timer running)",
      value: million.perSecond,
      unit: "tasks/s",
    },
    {
      what: "largest event-loop lag during a 1e6-item map (median of 5 maps)",
      value: million.lag,
      unit: "ms",
    },
    {
      what: "piscina under Deno, 100k tiny tasks",
      value: piscina,
      unit: "tasks/s",
    },
    {
      what: "Python Pool.map, 100k tiny tasks",
      value: python.tiny_per_s,
      unit: "tasks/s",
    },
    { what: "64 x 5 ms CPU tasks, serial", value: cpu.serial, unit: "ms" },
    { what: "64 x 5 ms CPU tasks, pool.map", value: cpu.pool, unit: "ms" },
    {
      what: "64 x 5 ms CPU tasks, 2 bare Workers (the machine's ceiling)",
      value: cpu.bare,
      unit: "ms",
    },
  ], [
    {
      what: "ours map / piscina",
      value: ours / piscina,
      target: ">= 5",
      met: ours / piscina >= 5,
    },
    {
      what: "ours map / Python Pool.map",
      value: ours / python.tiny_per_s,
      target: "(reported)",
      met: true,
    },
    {
      what: "ours imap chunksize 1 / piscina",
      value: oursOne / piscina,
      target: "(reported)",
      met: true,
    },
    {
      what: "largest event-loop lag during a 1e6-item map, ms",
      value: million.lag,
      target: "<= 50",
      met: million.lag <= 50,
    },
    {
      what: "CPU-bound speed-up over serial",
      value: speedup,
      target: ">= 1.8",
      met: speedup >= 1.8,
    },
    {
      what: "bare Workers' speed-up (what the machine allowed now)",
      value: cpu.bareSpeedup,
      target: "(reported)",
      met: true,
    },
  ]);
}
