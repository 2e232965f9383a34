// Process start()+join() of a trivial target on the worker backend, beside
// Python's multiprocessing (spawn and fork) on the same target, in one run.
// Then Worker children beside raw Workers, the runtime's own primitive:
// - the memory one more Worker child takes while it runs (its entry and a
//   target in a module with no imports), beside a raw Worker of a one-line
//   module, each measured in a fresh process as the growth of its RSS over
//   20 of them;
// - 100 children started at once and joined (trivial target), beside 100
//   raw Workers created at once, each of which posts a message and closes.
//
//   deno run -A bench/process_bench.ts
//
// A child imports its target's module. This module imports only the entry
// point it uses (`process.ts`, as `@mp/multiprocessing/process`), as Python's
// bench script imports `multiprocessing`. A second row times a target whose
// module imports all of `mod.ts`, which a child then loads too.
import { Process, type Target } from "../process.ts";
import { median, report, runPython, timeRuns } from "./_report.ts";

export function noop(): void {}

const besideMod = {
  module: new URL("./process_bench_mod_target.ts", import.meta.url),
  export: "noop",
};

async function startJoin(target: Target<[]>) {
  const p = new Process({ target });
  p.start();
  await p.join();
}

const HOLD = {
  module: new URL("./_hold_target.ts", import.meta.url),
  export: "hold",
};
const TRIVIAL = {
  module: new URL("./_trivial_target.ts", import.meta.url),
  export: "noop",
};
/** Children alive at once for the memory rows. */
const ALIVE = 20;
const AT_ONCE = 100;

/** A raw Worker of a module that counts itself in the cells it is sent. */
const RAW_HOLD = "self.onmessage = (e) => { Atomics.add(e.data, 0, 1); };";

/** Waits until `cells[0]` reaches `count`. */
async function counted(cells: Int32Array, count: number): Promise<void> {
  while (Atomics.load(cells, 0) < count) {
    await Atomics.waitAsync(cells, 0, Atomics.load(cells, 0), 50).value;
  }
}

/**
 * In a fresh process (`--memory raw|worker`): the MiB of RSS one more raw
 * Worker or Worker child takes, over ALIVE of them alive at once, after one
 * was started first (so that what every thread shares is loaded already).
 */
async function memoryPerChild(kind: string): Promise<number> {
  const cells = new Int32Array(new SharedArrayBuffer(4));
  const source = URL.createObjectURL(
    new Blob([RAW_HOLD], { type: "text/javascript" }),
  );
  const startOne = kind === "raw"
    ? () => new Worker(source, { type: "module" }).postMessage(cells)
    : () => new Process({ target: HOLD, args: [cells], daemon: true }).start();
  startOne();
  await counted(cells, 1);
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < ALIVE; i++) startOne();
  await counted(cells, ALIVE + 1);
  return (Deno.memoryUsage().rss - before) / ALIVE / 2 ** 20;
}

/** The median of `runs` fresh processes' {@linkcode memoryPerChild}. */
async function memoryRuns(kind: string, runs: number): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--memory", kind],
      stdout: "piped",
    }).output();
    values.push(Number(new TextDecoder().decode(stdout).trim()));
  }
  return values;
}

/** ms to start AT_ONCE children at once and join them all. */
async function childrenAtOnce(): Promise<number> {
  const start = performance.now();
  const children = Array.from(
    { length: AT_ONCE },
    () => new Process({ target: TRIVIAL }),
  );
  for (const p of children) p.start();
  await Promise.all(children.map((p) => p.join()));
  return performance.now() - start;
}

/** ms for AT_ONCE raw Workers, created at once, to run and close. */
async function rawWorkersAtOnce(source: string): Promise<number> {
  const start = performance.now();
  await Promise.all(
    Array.from({ length: AT_ONCE }, () =>
      new Promise<void>((resolve) => {
        const worker = new Worker(source, { type: "module" });
        worker.onmessage = () => {
          worker.terminate();
          resolve();
        };
      })),
  );
  return performance.now() - start;
}

if (import.meta.main && Deno.args[0] === "--memory") {
  console.log(await memoryPerChild(Deno.args[1]));
  Deno.exit(0);
}

if (import.meta.main) {
  const runs = 30;
  const worker = median(await timeRuns(() => startJoin(noop), runs));
  const withMod = median(await timeRuns(() => startJoin(besideMod), runs));
  const python = await runPython("process_bench.py", [String(runs)]);

  // Raw and ours take turns, so that a change of load weighs on both.
  const rawMemory: number[] = [];
  const childMemory: number[] = [];
  for (let i = 0; i < 5; i++) {
    rawMemory.push(...await memoryRuns("raw", 1));
    childMemory.push(...await memoryRuns("worker", 1));
  }
  const closing = URL.createObjectURL(
    new Blob(["postMessage(0); close();"], { type: "text/javascript" }),
  );
  await rawWorkersAtOnce(closing); // warm up
  await childrenAtOnce();
  const rawAtOnce: number[] = [];
  const oursAtOnce: number[] = [];
  for (let i = 0; i < 5; i++) {
    rawAtOnce.push(await rawWorkersAtOnce(closing));
    oursAtOnce.push(await childrenAtOnce());
  }
  URL.revokeObjectURL(closing);
  const memoryRatio = median(childMemory.map((c, i) => c / rawMemory[i]));
  const atOnceRatio = median(oursAtOnce.map((o, i) => o / rawAtOnce[i]));
  report(`Worker children beside raw Workers (median of 5)`, [
    {
      what: `RSS of one more Worker child (${ALIVE} alive)`,
      value: median(childMemory),
      unit: "MiB",
    },
    {
      what: `RSS of one more raw Worker (${ALIVE} alive)`,
      value: median(rawMemory),
      unit: "MiB",
    },
    {
      what: `${AT_ONCE} Worker children started at once, all joined`,
      value: median(oursAtOnce),
      unit: "ms",
    },
    {
      what: `${AT_ONCE} raw Workers created at once, all closed`,
      value: median(rawAtOnce),
      unit: "ms",
    },
  ], [{
    what: "Worker child memory / raw Worker",
    value: memoryRatio,
    target: "<= 1.5",
    met: memoryRatio <= 1.5,
  }, {
    what: `${AT_ONCE} children at once / ${AT_ONCE} raw Workers (time)`,
    value: atOnceRatio,
    target: "<= 1.3",
    met: atOnceRatio <= 1.3,
  }]);

  report("Process start()+join(), trivial target (median ms)", [
    { what: "worker backend", value: worker, unit: "ms" },
    {
      what: "worker backend, target beside an import of mod.ts",
      value: withMod,
      unit: "ms",
    },
    { what: "Python spawn", value: python.spawn, unit: "ms" },
    { what: "Python fork", value: python.fork, unit: "ms" },
  ], [{
    what: "worker / Python spawn",
    value: worker / python.spawn,
    target: "<= 0.5",
    met: worker / python.spawn <= 0.5,
  }, {
    what: "worker beside mod.ts / Python spawn",
    value: withMod / python.spawn,
    target: "(reported)",
    met: true,
  }, {
    what: "worker / Python fork",
    value: worker / python.fork,
    target: "(reported)",
    met: true,
  }]);
}
