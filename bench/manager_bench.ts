// A Manager().dict() set+get pair, beside Python's Manager().dict() proxy,
// in one run: from the thread that started the manager, and from a Worker
// child (each thread's calls go through a channel of its own in shared
// memory to the server's Worker; a subprocess child's would go through the
// server's Unix socket); Python's proxy talks to its server process over a
// Unix socket. Rounds alternate
// between the two languages, and the ratio is the median of each round's,
// so that a change of the machine's load hits both sides alike.
//
//   deno run -A bench/manager_bench.ts
import { type DictProxy, Manager } from "../manager.ts";
import { Pipe } from "../pipe.ts";
import type { Connection } from "../pipe.ts";
import { Process } from "../process.ts";
import { median, report, runPython } from "./_report.ts";

/** Microseconds per `set` + `get` pair on one key of `d`. */
async function pairUs(
  d: DictProxy<string, number>,
  n: number,
): Promise<number> {
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

/** A child's side: times the pairs on its handle, and sends the result. */
export async function timeInChild(
  d: DictProxy<string, number>,
  n: number,
  result: Connection<number>,
): Promise<void> {
  result.send(await pairUs(d, n));
  await d.close();
}

/** One round: the pairs here, then in a Worker child. */
async function round(n: number): Promise<{ here: number; child: number }> {
  await using manager = new Manager();
  await manager.start();
  const d = await manager.dict<string, number>();
  const here = await pairUs(d, n);
  const [reader, writer] = Pipe<number>({ duplex: false });
  const child = new Process({
    target: timeInChild,
    args: [d, n, writer],
    backend: "worker",
  });
  child.start();
  const us = await reader.recv();
  await child.join();
  return { here, child: us };
}

if (import.meta.main) {
  const n = 5000;
  const runs = 5;
  const here: number[] = [];
  const child: number[] = [];
  const python: number[] = [];
  for (let r = 0; r < runs; r++) {
    const ours = await round(n);
    here.push(ours.here);
    child.push(ours.child);
    python.push(
      (await runPython("manager_bench.py", [String(n), "1"])).us,
    );
  }
  const ratios = (ours: number[]) =>
    median(ours.map((us, r) => us / python[r]));
  report("Manager().dict() set+get (median µs per pair)", [
    {
      what: "Manager().dict() set+get, in the starting thread",
      value: median(here),
      unit: "µs",
    },
    {
      what: "same, from a Worker child (shared memory)",
      value: median(child),
      unit: "µs",
    },
    {
      what: "Python Manager().dict() set+get",
      value: median(python),
      unit: "µs",
    },
  ], [{
    what: "ours / Python, in the starting thread",
    value: ratios(here),
    target: "<= 1.0",
    met: ratios(here) <= 1.0,
  }, {
    what: "ours / Python, from a Worker child (shared memory)",
    value: ratios(child),
    target: "<= 1.0",
    met: ratios(child) <= 1.0,
  }]);
}
