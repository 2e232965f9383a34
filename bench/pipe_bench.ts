// Pipe round trip, child <-> parent, beside a raw MessageChannel round trip
// between the same kinds of threads and Python's multiprocessing.Pipe, in
// one run. Each side sends a small message and waits for its echo.
//
//   deno run -A bench/pipe_bench.ts
import { type Connection, Pipe } from "../pipe.ts";
import { Process } from "../process.ts";
import { median, report, runPython } from "./_report.ts";

/** The child: echoes every message until EOF. */
export async function echo(conn: Connection<number | string>): Promise<void> {
  conn.send("ready");
  for await (const message of conn) conn.send(message);
}

/** The child, blocking as Python's recv() does: echoes until EOF. */
export function echoSync(conn: Connection<number | string>): void {
  conn.send("ready");
  for (;;) {
    let message: number | string;
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
async function pipeRoundTrip(n: number, sync: boolean): Promise<number> {
  const [here, there] = Pipe<number | string>();
  const p = new Process({ target: sync ? echoSync : echo, args: [there] });
  p.start();
  await here.recv(); // the child is up
  const trip = sync
    ? (i: number) => {
      here.send(i);
      here.recvSync();
    }
    : async (i: number) => {
      here.send(i);
      await here.recv();
    };
  for (let i = 0; i < 1000; i++) await trip(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await trip(i);
  const us = (performance.now() - start) * 1000 / n;
  here.close();
  await p.join();
  return us;
}

/** Microseconds per round trip over a bare MessageChannel with a Worker. */
async function rawRoundTrip(n: number): Promise<number> {
  const worker = new Worker(new URL("./_raw_echo_worker.ts", import.meta.url), {
    type: "module",
  });
  const { port1, port2 } = new MessageChannel();
  const next = () =>
    new Promise<unknown>((resolve) => {
      port1.onmessage = (e) => resolve(e.data);
    });
  const ready = next();
  worker.postMessage({ mode: "echo", port: port2 }, [port2]);
  await ready;
  const trip = async (i: number) => {
    const reply = next();
    port1.postMessage(i);
    await reply;
  };
  for (let i = 0; i < 1000; i++) await trip(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) await trip(i);
  const us = (performance.now() - start) * 1000 / n;
  port1.postMessage(-1);
  port1.close();
  return us;
}

if (import.meta.main) {
  const n = 20_000;
  const runs = 3;
  const pipe: number[] = [];
  const pipeSync: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < runs; r++) {
    raw.push(await rawRoundTrip(n));
    pipe.push(await pipeRoundTrip(n, false));
    pipeSync.push(await pipeRoundTrip(n, true));
  }
  const python = await runPython("pipe_bench.py", [String(n), String(runs)]);
  const ours = median(pipe);
  const bare = median(raw);
  const blocking = median(pipeSync);
  report("Pipe round trip, child <-> parent (median µs per round trip)", [
    { what: "Pipe, await recv() (worker backend)", value: ours, unit: "µs" },
    { what: "Pipe, recvSync() (worker backend)", value: blocking, unit: "µs" },
    { what: "raw MessageChannel (Worker)", value: bare, unit: "µs" },
    { what: "Python multiprocessing.Pipe", value: python.us, unit: "µs" },
  ], [{
    what: "Pipe / raw MessageChannel",
    value: ours / bare,
    target: "<= 1.3",
    met: ours / bare <= 1.3,
  }, {
    what: "Pipe / Python Pipe",
    value: ours / python.us,
    target: "<= 0.5",
    met: ours / python.us <= 0.5,
  }, {
    what: "Pipe recvSync() / Python Pipe (both block)",
    value: blocking / python.us,
    target: "(reported)",
    met: true,
  }]);
}
