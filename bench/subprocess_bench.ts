// Process start()+join() of a trivial target on the subprocess backend,
// beside a bare `deno run` of an empty file (spawned the same way, with
// Deno.Command) in the same run: what the backend adds to Deno's own
// start-up. The runs are interleaved, so that the machine's load weighs on
// all alike. The target lives in a module with no imports (a child loads
// its target's module, as Python's spawn does, so a target beside a
// program that imports the whole library also pays for loading it: that
// case is reported too).
//
// Then 10 children started at once beside 10 bare `deno run`s spawned at
// once: the time until all have ended (trivial target, empty file), and the
// memory while all run (a target that holds its child, beside a bare run
// of the same module): the children's RSS summed, plus what the parent
// grew by (an agent, if any), beside the bare runs' RSS summed.
//
// Then the cost of a proxied call: with primitives behind the proxy
// (MP_SHARED_MEMORY=proxy, measured by this script run again with that
// environment, `--proxied-pair`), a subprocess child's Lock lives in its
// home process, so each acquireSync() and release() of the child is a round
// trip there. Python's equivalent is a Lock of a multiprocessing.Manager()
// used from a child process (subprocess_bench.py). Beside it, the same pair
// with the lock in shared memory (FFI, the default with -A).
//
//   deno run -A bench/subprocess_bench.ts
import { Process } from "../mod.ts";
import { Lock } from "../lock.ts";
import { Value } from "../shared.ts";
import { median, report, runPython } from "./_report.ts";

export function noop(): void {}

/**
 * In a subprocess child: times `rounds` acquireSync()+release() pairs of a
 * proxied lock (after a warm-up) and puts the ms of one pair in `out`.
 */
export function lockPairs(lock: Lock, out: Value<"d">, rounds: number): void {
  for (let i = 0; i < 100; i++) {
    lock.acquireSync();
    lock.release();
  }
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    lock.acquireSync();
    lock.release();
  }
  out.value = (performance.now() - start) / rounds;
}

/** The median ms of one acquireSync()+release() pair in a subprocess child. */
async function pairMs(runs: number, rounds: number): Promise<number> {
  const lock = new Lock();
  const out = new Value("d", 0);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const p = new Process({
      target: lockPairs,
      args: [lock, out, rounds],
      backend: "subprocess",
    });
    p.start();
    await p.join();
    if (p.exitCode !== 0) throw new Error(`lockPairs failed: ${p.error}`);
    times.push(out.value);
  }
  return median(times);
}

const TRIVIAL = {
  module: new URL("./_trivial_target.ts", import.meta.url),
  export: "noop",
};

const HOLD = {
  module: new URL("./_hold_target.ts", import.meta.url),
  export: "hold",
};
const AT_ONCE = 10;

/** A process's resident memory in MiB, from /proc (0 when unreadable). */
function rssMiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Waits until every file of `paths` exists. */
async function allExist(paths: string[]): Promise<void> {
  for (const path of paths) {
    for (;;) {
      try {
        await Deno.stat(path);
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  }
}

/**
 * MiB that AT_ONCE processes take while all run: subprocess children
 * holding (their RSS, plus the parent's growth), or bare `deno run`s of the
 * same module.
 */
async function memoryAtOnce(kind: "children" | "bare"): Promise<number> {
  const dir = await Deno.makeTempDir();
  const markers = Array.from({ length: AT_ONCE }, (_, i) => `${dir}/${i}`);
  const before = Deno.memoryUsage().rss / 2 ** 20;
  const pids: number[] = [];
  const stops: (() => Promise<unknown>)[] = [];
  try {
    for (const marker of markers) {
      if (kind === "children") {
        const p = new Process({
          target: HOLD,
          args: [marker],
          backend: "subprocess",
        });
        p.start();
        pids.push(p.pid!);
        stops.push(() => (p.kill(), p.join()));
      } else {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", HOLD.module.pathname, marker],
          stdin: "null",
        }).spawn();
        pids.push(child.pid);
        stops.push(() => (child.kill("SIGKILL"), child.status));
      }
    }
    await allExist(markers);
    const grown = Deno.memoryUsage().rss / 2 ** 20 - before;
    const children = pids.reduce((sum, pid) => sum + rssMiB(pid), 0);
    return children + (kind === "children" ? Math.max(grown, 0) : 0);
  } finally {
    await Promise.all(stops.map((stop) => stop()));
    await Deno.remove(dir, { recursive: true });
  }
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** {@linkcode pairMs} in a run of this script behind the proxy. */
async function proxiedPairMs(runs: number, rounds: number): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--proxied-pair",
      String(runs),
      String(rounds),
    ],
    env: { MP_SHARED_MEMORY: "proxy" },
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("The proxied run failed");
  return Number(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1));
}

if (import.meta.main && Deno.args[0] === "--proxied-pair") {
  console.log(await pairMs(Number(Deno.args[1]), Number(Deno.args[2])));
  Deno.exit(0);
}

if (import.meta.main) {
  const runs = 21;
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  const subprocess = () => {
    const p = new Process({ target: TRIVIAL, backend: "subprocess" });
    p.start();
    return p.join();
  };
  const besideLibrary = () => {
    const p = new Process({ target: noop, backend: "subprocess" });
    p.start();
    return p.join();
  };
  const bare = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", empty],
      stdin: "null",
    }).spawn().status;
  try {
    const kinds = [subprocess, bare, besideLibrary];
    for (let i = 0; i < 3; i++) for (const kind of kinds) await kind();
    const times = kinds.map((): number[] => []);
    for (let i = 0; i < runs; i++) {
      // Rotate the order, so that none always follows another.
      for (let k = 0; k < kinds.length; k++) {
        const j = (i + k) % kinds.length;
        times[j].push(await time(kinds[j]));
      }
    }
    const [sub, deno, library] = times.map(median);
    report(`Subprocess start()+join(), trivial target (median of ${runs})`, [
      { what: "subprocess backend", value: sub, unit: "ms" },
      { what: "bare deno run of an empty file", value: deno, unit: "ms" },
      {
        what: "subprocess, target beside an import of mod.ts",
        value: library,
        unit: "ms",
      },
    ], [{
      what: "subprocess / bare deno run",
      value: sub / deno,
      target: "<= 1.3",
      met: sub / deno <= 1.3,
    }, {
      what: "beside mod.ts / bare deno run",
      value: library / deno,
      target: "(reported)",
      met: true,
    }]);
    // AT_ONCE at once: time to all ended, then memory while all run.
    const children = () => {
      const ps = Array.from(
        { length: AT_ONCE },
        () => new Process({ target: TRIVIAL, backend: "subprocess" }),
      );
      for (const p of ps) p.start();
      return Promise.all(ps.map((p) => p.join()));
    };
    const bares = () => Promise.all(Array.from({ length: AT_ONCE }, bare));
    await children(); // warm up
    await bares();
    const childTimes: number[] = [];
    const bareTimes: number[] = [];
    const childMemory: number[] = [];
    const bareMemory: number[] = [];
    for (let i = 0; i < 5; i++) {
      childTimes.push(await time(children));
      bareTimes.push(await time(bares));
      childMemory.push(await memoryAtOnce("children"));
      bareMemory.push(await memoryAtOnce("bare"));
    }
    const timeRatio = median(childTimes.map((c, i) => c / bareTimes[i]));
    const memoryRatio = median(childMemory.map((c, i) => c / bareMemory[i]));
    report(`${AT_ONCE} subprocess children at once (median of 5)`, [
      {
        what: `${AT_ONCE} children started at once, all joined`,
        value: median(childTimes),
        unit: "ms",
      },
      {
        what: `${AT_ONCE} bare deno runs of an empty file spawned at once`,
        value: median(bareTimes),
        unit: "ms",
      },
      {
        what: `${AT_ONCE} children running: their RSS + the parent's growth`,
        value: median(childMemory),
        unit: "MiB",
      },
      {
        what: `${AT_ONCE} bare deno runs of the same module running: RSS`,
        value: median(bareMemory),
        unit: "MiB",
      },
    ], [{
      what: `${AT_ONCE} at once / bare deno runs (time)`,
      value: timeRatio,
      target: "<= 1.5",
      met: timeRatio <= 1.5,
    }, {
      what: `${AT_ONCE} at once / bare deno runs (memory)`,
      value: memoryRatio,
      target: "<= 1.5",
      met: memoryRatio <= 1.5,
    }]);
  } finally {
    await Deno.remove(empty);
  }

  const pair = await proxiedPairMs(5, 2000);
  const shared = await pairMs(5, 200_000);
  const python = await runPython("subprocess_bench.py");
  const pythonPair = python.manager_lock_pair_ms;
  report("lock.acquireSync()+release() from a subprocess child", [
    {
      what: "behind the proxy: one pair (2 round trips to the home)",
      value: pair,
      unit: "ms",
    },
    { what: "round trips per second", value: 2 / pair * 1000, unit: "/s" },
    { what: "in shared memory (FFI): one pair", value: shared, unit: "ms" },
    {
      what: "Python: Manager().Lock() pair from a child",
      value: pythonPair,
      unit: "ms",
    },
  ], [{
    what: "proxied pair / Python Manager lock pair",
    value: pair / pythonPair,
    target: "(reported)",
    met: true,
  }, {
    what: "shared-memory pair / Python Manager lock pair",
    value: shared / pythonPair,
    target: "(reported)",
    met: true,
  }]);
}
