// Client/Listener round trip of a small message, over TCP loopback and a
// Unix socket with an authkey, beside Python's Client/Listener over the
// same transports, in one run: Deno to a Deno echo server in a subprocess,
// Deno to a Python echo server, and Python to Python, round after round;
// and Deno to Deno on Deno's own sockets (MP_SOCKET=deno: both ends), where
// the library's FFI sockets are used otherwise, for an A/B in the same run.
//
//   deno run -A bench/connection_bench.ts
import { type Address, Client, Listener } from "../connection.ts";
import { median, report, runPython } from "./_report.ts";

const KEY = "bench key";

/** The echo server, in its own `deno run`: one client, until EOF. */
async function serve(where: string): Promise<void> {
  const address: Address = where.startsWith("/")
    ? where
    : { hostname: "127.0.0.1", port: Number(where) };
  await using listener = new Listener(address, { authkey: KEY });
  console.log(JSON.stringify(listener.address));
  await using conn = await listener.accept();
  for await (const message of conn) await conn.send(message);
}

/** Starts an echo server (Deno or Python) and reads the address it prints. */
async function startServer(
  python: boolean,
  where: string,
  denoSockets: boolean,
): Promise<{ child: Deno.ChildProcess; address: Address }> {
  const script = new URL(
    python ? "connection_bench.py" : "connection_bench.ts",
    import.meta.url,
  ).pathname;
  const child = new Deno.Command(python ? "python3" : Deno.execPath(), {
    args: python
      ? [script, "serve", where, KEY]
      : ["run", "--allow-all", script, "serve", where],
    stdout: "piped",
    stderr: "inherit",
    env: denoSockets ? { MP_SOCKET: "deno" } : {},
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The echo server ended before it listened");
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const printed = JSON.parse(text);
  const address = typeof printed === "string"
    ? printed
    : Array.isArray(printed)
    ? { hostname: printed[0], port: printed[1] }
    : printed;
  return { child, address };
}

/** Microseconds per round trip of a small message with an echo server. */
async function roundTrip(
  python: boolean,
  where: string,
  n: number,
  denoSockets = false,
): Promise<number> {
  const { child, address } = await startServer(python, where, denoSockets);
  try {
    if (denoSockets) Deno.env.set("MP_SOCKET", "deno");
    await using conn = await Client<number>(address, { authkey: KEY });
    Deno.env.delete("MP_SOCKET");
    for (let i = 0; i < 1000; i++) {
      await conn.send(i);
      await conn.recv();
    }
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      await conn.send(i);
      await conn.recv();
    }
    return (performance.now() - start) * 1000 / n;
  } finally {
    await child.status;
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "serve") {
    await serve(Deno.args[1]);
    Deno.exit(0);
  }
  const n = 10_000;
  const runs = 5;
  const dir = await Deno.makeTempDir({ prefix: "mp_conn_bench_" });
  const results: Record<string, number[]> = {};
  try {
    // Rounds alternate between the languages, so that a change of the
    // machine's load hits both alike; ratios are medians of each round's.
    for (let r = 0; r < runs; r++) {
      for (const transport of ["tcp", "unix"]) {
        for (const python of [false, true]) {
          const where = transport === "tcp" ? "0" : `${dir}/s${r}${python}`;
          const key = `${transport} ${python ? "python" : "deno"}`;
          (results[key] ??= []).push(await roundTrip(python, where, n));
        }
        const where = transport === "tcp" ? "0" : `${dir}/s${r}deno`;
        (results[`${transport} deno-sockets`] ??= []).push(
          await roundTrip(false, where, n, true),
        );
      }
      const python = await runPython("connection_bench.py", [String(n), "1"]);
      (results["tcp python-python"] ??= []).push(python.tcp);
      (results["unix python-python"] ??= []).push(python.unix);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const ratioOf = (key: string, base: string) =>
    median(results[key].map((us, r) => us / results[base][r]));
  const ratio = (transport: string) =>
    ratioOf(`${transport} deno`, `${transport} python-python`);
  const row = (what: string, key: string) => ({
    what,
    value: median(results[key]),
    unit: "µs",
  });
  report(
    "Client/Listener round trip of a small message, with an authkey (median µs)",
    [
      row("Deno Client <-> Deno Listener, TCP", "tcp deno"),
      row("same, on Deno's sockets (MP_SOCKET=deno)", "tcp deno-sockets"),
      row("Deno Client <-> Python Listener, TCP", "tcp python"),
      row("Python Client <-> Python Listener, TCP", "tcp python-python"),
      row("Deno Client <-> Deno Listener, Unix", "unix deno"),
      row("same, on Deno's sockets (MP_SOCKET=deno)", "unix deno-sockets"),
      row("Deno Client <-> Python Listener, Unix", "unix python"),
      row("Python Client <-> Python Listener, Unix", "unix python-python"),
    ],
    [{
      what: "Deno / Python, TCP",
      value: ratio("tcp"),
      target: "<= 1.0",
      met: ratio("tcp") <= 1.0,
    }, {
      what: "Deno / Python, Unix socket",
      value: ratio("unix"),
      target: "<= 1.0",
      met: ratio("unix") <= 1.0,
    }, {
      what: "FFI sockets / Deno's sockets, TCP",
      value: ratioOf("tcp deno", "tcp deno-sockets"),
      target: "< 1",
      met: ratioOf("tcp deno", "tcp deno-sockets") < 1,
    }, {
      what: "FFI sockets / Deno's sockets, Unix socket",
      value: ratioOf("unix deno", "unix deno-sockets"),
      target: "< 1",
      met: ratioOf("unix deno", "unix deno-sockets") < 1,
    }],
  );
}
