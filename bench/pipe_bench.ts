// Pipe round trip, child <-> parent, beside a raw MessageChannel round trip
// between the same kinds of threads and Python's multiprocessing.Pipe, in
// one run. Each side sends a small message (an integer, and a small object)
// and waits for its echo. A subprocess child's pipe, whose calls go through
// its parent's agent (the proxy), is beside Python's Pipe with a spawn
// child.
//
//   deno run -A bench/pipe_bench.ts
import { type Connection, Pipe } from "../pipe.ts";
import { Process } from "../process.ts";
import { rawEcho } from "./_raw_echo.ts";
import { median, report, runPython } from "./_report.ts";

/** What each round trip sends: the integer `i`, or a small object. */
type Make = (i: number) => unknown;
const integer: Make = (i) => i;
const smallObject: Make = (i) => ({
  id: i,
  name: "task",
  args: [1, 2.5, "x"],
  done: false,
});

/** The child: echoes every message until EOF. */
export async function echo(conn: Connection<unknown>): Promise<void> {
  conn.send("ready");
  for await (const message of conn) conn.send(message);
}

/** The child, blocking as Python's recv() does: echoes until EOF. */
export function echoSync(conn: Connection<unknown>): void {
  conn.send("ready");
  for (;;) {
    let message: unknown;
    try {
      message = conn.recvSync();
    } catch {
      return; // EOF
    }
    conn.send(message);
  }
}

/**
 * Microseconds per round trip over a Pipe with a child: with `await recv()`
 * on both sides, or with the blocking `recvSync()` on both sides.
 */
async function pipeRoundTrip(
  n: number,
  sync: boolean,
  make: Make,
  backend: "worker" | "subprocess" = "worker",
): Promise<number> {
  const [here, there] = Pipe<unknown>();
  const p = new Process({
    target: sync ? echoSync : echo,
    args: [there],
    backend,
  });
  p.start();
  await here.recv(); // the child is up
  const trip = sync
    ? (i: number) => {
      here.send(make(i));
      here.recvSync();
    }
    : async (i: number) => {
      here.send(make(i));
      await here.recv();
    };
  for (let i = 0; i < Math.min(n / 10, 1000); i++) await trip(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await trip(i);
  const us = (performance.now() - start) * 1000 / n;
  here.close();
  await p.join();
  return us;
}

/** Microseconds per round trip over a bare MessageChannel with a Worker. */
async function rawRoundTrip(n: number, make: Make): Promise<number> {
  const raw = await rawEcho();
  for (let i = 0; i < 1000; i++) await raw.trip(make(i));
  const start = performance.now();
  for (let i = 0; i < n; i++) await raw.trip(make(i));
  const us = (performance.now() - start) * 1000 / n;
  raw.close();
  return us;
}

if (import.meta.main) {
  const n = 20_000;
  // A subprocess child's round trip takes tens of times longer.
  const nSubprocess = 2_000;
  const runs = 3;
  const kinds = { integer, "small object": smallObject };
  const ours: Record<string, number[]> = {};
  const sync: Record<string, number[]> = {};
  const raw: Record<string, number[]> = {};
  const subprocess: Record<string, number[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const [kind, make] of Object.entries(kinds)) {
      (raw[kind] ??= []).push(await rawRoundTrip(n, make));
      (ours[kind] ??= []).push(await pipeRoundTrip(n, false, make));
      (sync[kind] ??= []).push(await pipeRoundTrip(n, true, make));
      (subprocess[kind] ??= []).push(
        await pipeRoundTrip(nSubprocess, false, make, "subprocess"),
      );
    }
  }
  const python = await runPython("pipe_bench.py", [String(n), String(runs)]);
  const pythonUs: Record<string, number> = {
    integer: python.us,
    "small object": python.object_us,
  };
  const pythonSpawnUs: Record<string, number> = {
    integer: python.spawn_us,
    "small object": python.spawn_object_us,
  };
  const rows = [];
  const ratios = [];
  for (const kind of Object.keys(kinds)) {
    const pipe = median(ours[kind]);
    const bare = median(raw[kind]);
    const blocking = median(sync[kind]);
    const py = pythonUs[kind];
    const proxied = median(subprocess[kind]);
    const pySpawn = pythonSpawnUs[kind];
    rows.push(
      {
        what: `Pipe, await recv(), ${kind} (worker backend)`,
        value: pipe,
        unit: "µs",
      },
      {
        what: `Pipe, recvSync(), ${kind} (worker backend)`,
        value: blocking,
        unit: "µs",
      },
      { what: `raw MessageChannel (Worker), ${kind}`, value: bare, unit: "µs" },
      { what: `Python multiprocessing.Pipe, ${kind}`, value: py, unit: "µs" },
      {
        what: `Pipe, await recv(), ${kind} (subprocess backend)`,
        value: proxied,
        unit: "µs",
      },
      {
        what: `Python multiprocessing.Pipe, spawn child, ${kind}`,
        value: pySpawn,
        unit: "µs",
      },
    );
    ratios.push({
      what: `Pipe / raw MessageChannel, ${kind}`,
      value: pipe / bare,
      target: "<= 1.3",
      met: pipe / bare <= 1.3,
    }, {
      what: `Pipe / Python Pipe, ${kind}`,
      value: pipe / py,
      target: "<= 0.5",
      met: pipe / py <= 0.5,
    }, {
      what: `Pipe recvSync() / Python Pipe (both block), ${kind}`,
      value: blocking / py,
      target: "(reported)",
      met: true,
    }, {
      what: `Pipe, subprocess child / Python Pipe, spawn child, ${kind}`,
      value: proxied / pySpawn,
      target: "(reported)",
      met: true,
    });
  }
  report(
    "Pipe round trip, child <-> parent (median µs per round trip)",
    rows,
    ratios,
  );
}
