// Process start()+join() of a trivial target on the worker backend, beside
// Python's multiprocessing (spawn and fork) on the same target, in one run.
//
//   deno run -A bench/process_bench.ts
import { Process } from "../mod.ts";
import { median, report, runPython, timeRuns } from "./_report.ts";

export function noop(): void {}

if (import.meta.main) {
  const runs = 30;
  const worker = median(
    await timeRuns(async () => {
      const p = new Process({ target: noop });
      p.start();
      await p.join();
    }, runs),
  );
  const python = await runPython("process_bench.py", [String(runs)]);
  report("Process start()+join(), trivial target (median ms)", [
    { what: "worker backend", value: worker, unit: "ms" },
    { what: "Python spawn", value: python.spawn, unit: "ms" },
    { what: "Python fork", value: python.fork, unit: "ms" },
  ], [{
    what: "worker / Python spawn",
    value: worker / python.spawn,
    target: "<= 0.5",
    met: worker / python.spawn <= 0.5,
  }, {
    what: "worker / Python fork",
    value: worker / python.fork,
    target: "(reported)",
    met: true,
  }]);
}
