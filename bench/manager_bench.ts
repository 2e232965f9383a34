// A Manager().dict() set+get pair, beside Python's Manager().dict() proxy,
// in one run (both over a Unix socket to a server that holds the dict).
//
//   deno run -A bench/manager_bench.ts
import { Manager } from "../manager.ts";
import { median, report, runPython } from "./_report.ts";

/** Microseconds per `set` + `get` pair on one key. */
async function setGetUs(n: number): Promise<number> {
  await using manager = new Manager();
  await manager.start();
  const d = await manager.dict<string, number>();
  for (let i = 0; i < 500; i++) {
    await d.set("k", i);
    await d.get("k");
  }
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    await d.set("k", i);
    await d.get("k");
  }
  return (performance.now() - start) * 1000 / n;
}

if (import.meta.main) {
  const n = 5000;
  const runs = 3;
  const ours: number[] = [];
  for (let r = 0; r < runs; r++) ours.push(await setGetUs(n));
  const python = await runPython("manager_bench.py", [String(n), String(runs)]);
  const us = median(ours);
  report("Manager().dict() set+get (median µs per pair)", [
    { what: "Manager().dict() set+get", value: us, unit: "µs" },
    { what: "Python Manager().dict() set+get", value: python.us, unit: "µs" },
  ], [{
    what: "ours / Python",
    value: us / python.us,
    target: "<= 1.0",
    met: us / python.us <= 1.0,
  }]);
}
