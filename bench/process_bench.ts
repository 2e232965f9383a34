// Process start()+join() of a trivial target on the worker backend, beside
// Python's multiprocessing (spawn and fork) on the same target, in one run.
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

if (import.meta.main) {
  const runs = 30;
  const worker = median(await timeRuns(() => startJoin(noop), runs));
  const withMod = median(await timeRuns(() => startJoin(besideMod), runs));
  const python = await runPython("process_bench.py", [String(runs)]);
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
