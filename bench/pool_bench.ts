// Pool against Python's multiprocessing.Pool, the best JavaScript worker
// pool (piscina, at its best settings, under Deno and under Node) and bare
// Workers, like with like, in one run:
//
// 1. 100k tiny tasks (x => x + 1) on 2 workers in the same 8 chunks of
//    12,500 (Python's default chunksize for this map): our map with that
//    chunksize, Python's map (its default is that chunksize), piscina given
//    the same chunks as 8 run() calls, 2 bare Workers given the same chunks.
// 2. One message per task, 20k tiny tasks: our map with chunksize 1,
//    Python's map with chunksize 1, piscina with 16 tasks in flight a thread.
// 3. A burst of 5,000 applyAsync calls, and 2,000 sequential awaited apply
//    calls: per-call overhead, against piscina's run() and Python's
//    apply_async / apply.
// 4. A CPU-bound map, 64 tasks of about 5 ms: speed-up over running them
//    one after another in the main thread, beside 2 bare Workers.
// 5. A map of 1e6 tiny tasks while a 5 ms timer runs: its throughput, and
//    the largest lag of the timer, the longest stretch for which the pool
//    kept the event loop from other work.
// 6. A task that returns a fresh 100 MiB ArrayBuffer, moved with
//    transfer() or copied: the time of an awaited apply of each.
//
//   deno run -A bench/pool_bench.ts
//
// piscina's side is bench/_piscina_side.mjs, one script for both runtimes;
// for Node it is installed with npm into the temporary directory once.
import { Pool, transfer } from "../pool.ts";
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

/** A fresh buffer of `mib` MiB, its bytes written: moved, or copied. */
export function bigResult(mib: number, move: boolean): ArrayBuffer {
  const buffer = new Uint8Array(mib * 2 ** 20).fill(1).buffer;
  return move ? transfer(buffer, [buffer]) : buffer;
}

/** ms of an awaited apply of bigResult, moved and copied (medians of 5). */
async function bigResults(pool: Pool): Promise<[number, number]> {
  const moved: number[] = [];
  const copied: number[] = [];
  for (let i = 0; i < 6; i++) {
    for (const [move, times] of [[true, moved], [false, copied]] as const) {
      const start = performance.now();
      const buffer = await pool.apply(bigResult, [100, move]);
      const ms = performance.now() - start;
      if (buffer.byteLength !== 100 * 2 ** 20) throw new Error("wrong size");
      if (i > 0) times.push(ms); // the first is the warm-up
    }
  }
  return [median(moved), median(copied)];
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
const CHUNKS = 8;
const PER_TASK = 20_000;
const BURST = 5_000;
const SEQUENTIAL = 2_000;
const PROCESSES = 2;
const MILLION = 1_000_000;

interface PerCall {
  /** Tasks per second, the 100k tasks in the same 8 chunks. */
  chunked_per_s: number;
  /** Tasks per second, one message a task. */
  per_task_per_s: number;
  /** Tasks per second, a burst of async calls. */
  burst_per_s: number;
  /** Microseconds per awaited call, one after another. */
  sequential_us: number;
}

function check(results: unknown[], n: number): void {
  if (results.length !== n || results[n - 1] !== n) {
    throw new Error("wrong result");
  }
}

async function perCallOurs(pool: Pool, items: number[]): Promise<PerCall> {
  const chunksize = Math.ceil(TINY / CHUNKS);
  const few = items.slice(0, PER_TASK);
  const burst = items.slice(0, BURST);
  const ms = async (fn: () => Promise<void>, runs = 5) =>
    median(await timeRuns(fn, runs, 2));
  const chunked = await ms(async () => {
    check(await pool.map(inc, items, { chunksize }), TINY);
  });
  const perTask = await ms(async () => {
    check(await pool.map(inc, few, { chunksize: 1 }), PER_TASK);
  }, 3);
  const bursts = await ms(async () => {
    check(
      await Promise.all(burst.map((x) => pool.applyAsync(inc, [x]))),
      BURST,
    );
  });
  const sequential = await ms(async () => {
    for (let i = 0; i < SEQUENTIAL; i++) await pool.apply(inc, [i]);
  }, 3);
  return {
    chunked_per_s: TINY / chunked * 1000,
    per_task_per_s: PER_TASK / perTask * 1000,
    burst_per_s: BURST / bursts * 1000,
    sequential_us: sequential / SEQUENTIAL * 1000,
  };
}

/** 2 bare Workers given the same 8 chunks, all sent at once: the ceiling. */
async function chunkedBare(items: number[]): Promise<number> {
  const size = Math.ceil(TINY / CHUNKS);
  const chunks: number[][] = [];
  for (let i = 0; i < TINY; i += size) chunks.push(items.slice(i, i + size));
  const source = URL.createObjectURL(
    new Blob([
      `self.onmessage = (e) => self.postMessage(e.data.map((x) => x + 1));`,
    ], { type: "text/javascript" }),
  );
  const workers = Array.from(
    { length: PROCESSES },
    () => new Worker(source, { type: "module" }),
  );
  const run = async () => {
    const parts = await Promise.all(workers.map((worker, w) => {
      const mine = chunks.filter((_, i) => i % PROCESSES === w);
      return new Promise<number[][]>((resolve) => {
        const got: number[][] = [];
        worker.onmessage = (e) => {
          got.push(e.data);
          if (got.length === mine.length) resolve(got);
        };
        for (const chunk of mine) worker.postMessage(chunk);
      });
    }));
    if (parts.flat(2).length !== TINY) throw new Error("missing results");
  };
  try {
    return TINY / median(await timeRuns(run, 5, 2)) * 1000;
  } finally {
    for (const worker of workers) worker.terminate();
    URL.revokeObjectURL(source);
  }
}

/** Runs bench/_piscina_side.mjs under `runtime`; its JSON, or undefined. */
async function piscinaSide(
  runtime: "deno" | "node",
): Promise<PerCall | undefined> {
  const script = new URL("./_piscina_side.mjs", import.meta.url).pathname;
  const specifier = runtime === "deno"
    ? "npm:piscina@^5"
    : await piscinaForNode();
  if (!specifier) return undefined;
  const command = runtime === "deno"
    ? new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script, specifier, `${TINY}`, `${CHUNKS}`],
      stdout: "piped",
    })
    : new Deno.Command("node", {
      args: [script, specifier, `${TINY}`, `${CHUNKS}`],
      stdout: "piped",
    });
  const { code, stdout } = await command.output();
  if (code !== 0) return undefined;
  const text = new TextDecoder().decode(stdout).trim();
  return JSON.parse(text.split("\n").at(-1)!);
}

/** piscina installed for Node in the temporary directory, once; its URL. */
async function piscinaForNode(): Promise<string | undefined> {
  const dir = `${
    Deno.env.get("TMPDIR") ?? "/tmp"
  }/multiprocessing-bench-piscina`;
  const entry = `${dir}/node_modules/piscina/dist/esm-wrapper.mjs`;
  try {
    await Deno.stat(entry);
  } catch {
    try {
      await Deno.mkdir(dir, { recursive: true });
      await new Deno.Command("npm", {
        args: [
          "install",
          "--prefix",
          dir,
          "--no-audit",
          "--no-fund",
          "piscina@5",
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      await Deno.stat(entry);
    } catch {
      return undefined; // no node or npm here: the rows say so
    }
  }
  return `file://${entry}`;
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

const NOT_RUN = { what: "", value: NaN, unit: "" };

if (import.meta.main) {
  const items = Array.from({ length: TINY }, (_, i) => i);
  await using pool = new Pool({ processes: PROCESSES });
  await pool.map(inc, items.slice(0, 10_000));
  const ours = await perCallOurs(pool, items);
  const bare = await chunkedBare(items);
  const million = await millionMap(pool);
  const [moved, copied] = await bigResults(pool);
  const cpu = await cpuBound(pool);
  const onDeno = await piscinaSide("deno");
  const onNode = await piscinaSide("node");
  const python = await runPython("pool_bench.py", [String(TINY), "5"]);
  const pythonCalls: PerCall = {
    chunked_per_s: python.tiny_per_s,
    per_task_per_s: python.per_task_per_s,
    burst_per_s: python.burst_per_s,
    sequential_us: python.sequential_us,
  };
  const rate = (what: string, value: number | undefined) =>
    value === undefined
      ? { ...NOT_RUN, what: `${what} (not run)` }
      : { what, value, unit: "tasks/s" };
  const piscinaRows = (name: string, side: PerCall | undefined) => [
    rate(`${name}: same 8 chunks`, side?.chunked_per_s),
    rate(
      `${name}: one task a message, 16 in flight a thread`,
      side?.per_task_per_s,
    ),
    rate(`${name}: burst of ${BURST} run()`, side?.burst_per_s),
    {
      what: `${name}: ${SEQUENTIAL} awaited run() one after another`,
      value: side?.sequential_us ?? NaN,
      unit: "µs each",
    },
  ];
  report(`Pool, ${PROCESSES} workers`, [
    rate("ours: map, 100k tiny tasks in 8 chunks", ours.chunked_per_s),
    rate("2 bare Workers, the same 8 chunks", bare),
    rate(
      "Python Pool.map, its default chunksize (the same 8 chunks)",
      python.tiny_per_s,
    ),
    rate(
      "ours: map chunksize 1 (one task a message), 20k",
      ours.per_task_per_s,
    ),
    rate("Python Pool.map chunksize 1, 20k", python.per_task_per_s),
    rate(`ours: burst of ${BURST} applyAsync`, ours.burst_per_s),
    rate(`Python: burst of ${BURST} apply_async`, python.burst_per_s),
    {
      what: `ours: ${SEQUENTIAL} awaited apply one after another`,
      value: ours.sequential_us,
      unit: "µs each",
    },
    {
      what: `Python: ${SEQUENTIAL} apply one after another`,
      value: python.sequential_us,
      unit: "µs each",
    },
    ...piscinaRows("piscina under Deno", onDeno),
    ...piscinaRows("piscina under Node", onNode),
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
      what: "apply returning a fresh 100 MiB ArrayBuffer, transfer()",
      value: moved,
      unit: "ms",
    },
    {
      what: "apply returning a fresh 100 MiB ArrayBuffer, copied",
      value: copied,
      unit: "ms",
    },
    { what: "64 x 5 ms CPU tasks, serial", value: cpu.serial, unit: "ms" },
    { what: "64 x 5 ms CPU tasks, pool.map", value: cpu.pool, unit: "ms" },
    {
      what: "64 x 5 ms CPU tasks, 2 bare Workers (the machine's ceiling)",
      value: cpu.bare,
      unit: "ms",
    },
  ], [
    ratio(
      "chunked map / bare Workers, same chunks",
      ours.chunked_per_s / bare,
      ">= 0.8",
    ),
    // Against piscina under Deno, under Node, and Python, in that order.
    ...againstPeers(ours, [onDeno, onNode, pythonCalls], [
      ["chunked map, same chunks", "chunked_per_s", [">= 1", "", ""]],
      ["chunksize 1, one task a message", "per_task_per_s", ["", "", ""]],
      ["applyAsync burst", "burst_per_s", [">= 1", ">= 1", ">= 2"]],
      ["sequential apply (time)", "sequential_us", [">= 1", ">= 1", ">= 2"]],
    ]),
    {
      what: "largest event-loop lag during a 1e6-item map, ms",
      value: million.lag,
      target: "<= 50",
      met: million.lag <= 50,
    },
    {
      what: "100 MiB result: transfer() / copied (time)",
      value: moved / copied,
      target: "<= 0.5",
      met: moved / copied <= 0.5,
    },
    ratio("CPU-bound speed-up over serial", cpu.speedup, ">= 1.8"),
    ratio(
      "bare Workers' speed-up (what the machine allowed now)",
      cpu.bareSpeedup,
      "(reported)",
    ),
  ]);
}

/**
 * Ratio rows of each measure of ours against each peer (a peer not run
 * gives NaN): rates as ours / theirs, a time (`_us`) as theirs / ours, so
 * that above 1 is ours ahead either way. A target "" is only reported.
 */
function againstPeers(
  ours: PerCall,
  peers: (PerCall | undefined)[],
  measures: [string, keyof PerCall, string[]][],
) {
  const PEERS = ["piscina under Deno", "piscina under Node", "Python"];
  return measures.flatMap(([what, key, targets]) =>
    peers.map((peer, i) => {
      const theirs = peer?.[key] ?? NaN;
      const value = key.endsWith("_us")
        ? theirs / ours[key]
        : ours[key] / theirs;
      return ratio(
        `${what} vs ${PEERS[i]} (over 1: ours ahead)`,
        value,
        targets[i] || "(reported)",
      );
    })
  );
}

/** A ratio row; a target ">= x" is met when the ratio reaches it. */
function ratio(what: string, value: number, target: string) {
  const goal = /^>= ([\d.]+)$/.exec(target);
  return { what, value, target, met: !goal || value >= Number(goal[1]) };
}
