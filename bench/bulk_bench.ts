// Large messages (issue 13) beside Python's multiprocessing (spawn), in one
// run: a 10 MiB round trip through a child for each path (sendBytes /
// recvBytes; send / recv of a Uint8Array, an ArrayBuffer, a Float64Array;
// Queue put / get; a Pool.map argument and result) on both backends; the
// scaling of a sendBytes round trip from 1 KiB to 100 MiB on Workers; this
// process's RSS growth while a Worker child receives a 100 MiB message; and
// a 100 MiB ArrayBuffer sent with `transfer` against the same sent as a copy;
// and the largest event-loop lag during a 100 MiB sendBytes round trip; and
// a bare MessageChannel's 64 KiB round trip from a new channel (the raw
// primitive beside the 64 KiB row); and the 64 KiB round trip from a new
// pipe received with recvBytesInto (Python: recv_bytes_into).
//
//   deno run -A bench/bulk_bench.ts [runs]
import type { Backend } from "../process.ts";
import { type Connection, Pipe } from "../pipe.ts";
import { Pool } from "../pool.ts";
import { Process } from "../process.ts";
import { Queue } from "../queue.ts";
import { median, report, type Row, runPython, timeRuns } from "./_report.ts";
import { largestTimerLag } from "../_test_util.ts";
import { rawEcho } from "./_raw_echo.ts";

const MiB = 1024 * 1024;
const SIZE = 10 * MiB;
const SCALING = [1024, 64 * 1024, MiB, 10 * MiB, 100 * MiB];
/** The size timed again once the process is warm, and its warm-up runs. */
const STEADY_SIZE = 64 * 1024;
const STEADY_WARMUP_RUNS = 8;

/** The child: echoes byte messages until an empty one. */
export async function echoBytes(conn: Connection): Promise<void> {
  for (;;) {
    const message = await conn.recvBytes();
    if (message.length === 0) return;
    conn.sendBytes(message);
  }
}

/**
 * The child: echoes byte messages until an empty one, receiving each into
 * one buffer of its own (as Python's `recv_bytes_into`).
 */
export async function echoBytesInto(conn: Connection): Promise<void> {
  const buffer = new Uint8Array(STEADY_SIZE);
  for (;;) {
    const length = await conn.recvBytesInto(buffer);
    if (length === 0) return;
    conn.sendBytes(buffer, 0, length);
  }
}

/** The child: echoes every message until `null`. */
export async function echo(conn: Connection): Promise<void> {
  for (;;) {
    const message = await conn.recv();
    if (message === null) return;
    conn.send(message);
  }
}

/** The child: echoes buffers, moving them back, until `null`. */
export async function echoMoved(conn: Connection<ArrayBuffer>): Promise<void> {
  for (;;) {
    const message = await conn.recv();
    if (message === null) return;
    conn.send(message, { transfer: [message] });
  }
}

/** The child: moves items from one queue to the other until `null`. */
export async function queueEcho(
  inq: Queue<unknown>,
  outq: Queue<unknown>,
): Promise<void> {
  for (;;) {
    const item = await inq.get();
    if (item === null) return;
    await outq.put(item);
  }
}

/** A pool task that returns its argument. */
export function identity<T>(x: T): T {
  return x;
}

/** Median ms of `trip` over `runs` (after one warm-up). */
async function timed(trip: () => Promise<unknown>, runs: number) {
  return median(await timeRuns(trip, runs, 1));
}

/** Starts `target` with `args` on `backend`; the handle to join it. */
function start(
  backend: Backend,
  // deno-lint-ignore no-explicit-any
  target: (...args: any[]) => unknown,
  args: unknown[],
): Process {
  const p = new Process({ target, args, backend });
  p.start();
  return p;
}

/** ms per 10 MiB round trip for each Pipe path. */
async function pipeRows(
  backend: Backend,
  runs: number,
): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  {
    const [here, there] = Pipe();
    const p = start(backend, echoBytes, [there]);
    const payload = new Uint8Array(SIZE);
    rows.sendBytes = await timed(async () => {
      here.sendBytes(payload);
      await here.recvBytes();
    }, runs);
    here.sendBytes(new Uint8Array(0));
    await p.join();
    here.close();
  }
  const [here, there] = Pipe();
  const p = start(backend, echo, [there]);
  const values: Record<string, unknown> = {
    Uint8Array: new Uint8Array(SIZE),
    ArrayBuffer: new ArrayBuffer(SIZE),
    Float64Array: new Float64Array(SIZE / 8),
  };
  for (const [name, value] of Object.entries(values)) {
    rows[name] = await timed(async () => {
      here.send(value);
      await here.recv();
    }, runs);
  }
  here.send(null);
  await p.join();
  here.close();
  return rows;
}

async function queueRow(backend: Backend, runs: number): Promise<number> {
  const inq = new Queue(), outq = new Queue();
  const p = start(backend, queueEcho, [inq, outq]);
  const payload = new Uint8Array(SIZE);
  const ms = await timed(async () => {
    await inq.put(payload);
    await outq.get();
  }, runs);
  await inq.put(null);
  await p.join();
  return ms;
}

async function poolRow(backend: Backend, runs: number): Promise<number> {
  await using pool = new Pool({ processes: 1, backend });
  const payload = new Uint8Array(SIZE);
  return await timed(() => pool.map(identity, [payload]), runs);
}

/** Round trips per timed run for a size: about 32 MiB of messages. */
function tripsFor(size: number): number {
  return Math.min(1000, Math.max(1, Math.round(32 * MiB / size)));
}

/**
 * A run of round trips of one payload of `size` bytes, each made by `trip`
 * (as many trips as {@linkcode tripsFor} says), and how many.
 */
function echoTrips(
  size: number,
  trip: (payload: Uint8Array) => Promise<unknown>,
): [() => Promise<void>, number] {
  const payload = new Uint8Array(size).fill(1);
  const trips = tripsFor(size);
  const run = async () => {
    for (let i = 0; i < trips; i++) await trip(payload);
  };
  return [run, trips];
}

/** ms per sendBytes round trip by size. */
async function scaling(runs: number): Promise<Record<string, number>> {
  const [here, there] = Pipe();
  const p = start("worker", echoBytes, [there]);
  const trip = (payload: Uint8Array) => {
    here.sendBytes(payload);
    return here.recvBytes();
  };
  const ms: Record<string, number> = {};
  for (const size of SCALING) {
    const [run, trips] = echoTrips(size, trip);
    ms[size] = await timed(run, runs) / trips;
  }
  // The same 64 KiB trips once the process is warm: V8 frees received
  // buffers only at its next collection, and until malloc's heaps have
  // grown to hold what it frees that late (about 50 MiB each), a message
  // is fresh memory to fault in. Both sides first move 256 MiB.
  const [warm, trips] = echoTrips(STEADY_SIZE, trip);
  for (let i = 0; i < STEADY_WARMUP_RUNS; i++) await warm();
  ms.steady = await timed(warm, runs) / trips;
  here.sendBytes(new Uint8Array(0));
  await p.join();
  here.close();
  return ms;
}

/**
 * ms per 64 KiB round trip made by `trip` on a new channel, after the same
 * 1 KiB trips that {@linkcode scaling} makes first on its new pipe.
 */
async function freshChannelMs(
  runs: number,
  trip: (payload: Uint8Array) => Promise<unknown>,
): Promise<number> {
  await timed(echoTrips(1024, trip)[0], runs);
  const [run, trips] = echoTrips(STEADY_SIZE, trip);
  return await timed(run, runs) / trips;
}

/**
 * ms per 64 KiB round trip from a new pipe, both sides receiving with
 * `recvBytesInto` one buffer each (as Python's side with
 * `recv_bytes_into`): no new memory a message.
 */
async function intoScaling(runs: number): Promise<number> {
  const [here, there] = Pipe();
  const p = start("worker", echoBytesInto, [there]);
  const buffer = new Uint8Array(STEADY_SIZE);
  const ms = await freshChannelMs(runs, (payload) => {
    here.sendBytes(payload);
    return here.recvBytesInto(buffer);
  });
  here.sendBytes(new Uint8Array(0));
  await p.join();
  here.close();
  return ms;
}

/**
 * The raw primitive beside the fresh-pipe rows: ms per round trip of a 64
 * KiB `Uint8Array` posted on a new MessageChannel to a bare Worker that
 * posts it back. Each received message is new memory here too.
 */
async function rawScaling(runs: number): Promise<number> {
  const raw = await rawEcho();
  const ms = await freshChannelMs(runs, (payload) => raw.trip(payload));
  raw.close();
  return ms;
}

/** The child: answers each byte message with its length, until an empty one. */
export async function countBytes(conn: Connection): Promise<void> {
  for (;;) {
    const message = await conn.recvBytes();
    if (message.length === 0) return;
    conn.send(message.length);
  }
}

/** A field of /proc/self/status in bytes (Linux), else `undefined`. */
function procStatus(field: "VmRSS" | "VmHWM"): number | undefined {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kib = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * The growth of this process's peak RSS while a 100 MiB message (already
 * in memory) goes to a Worker child, which receives it: Linux's high-water
 * mark, reset just before (`/proc/self/clear_refs`), or the RSS after the
 * send and after the receipt elsewhere.
 */
async function rssGrowth(): Promise<number> {
  const [here, there] = Pipe();
  const p = start("worker", countBytes, [there]);
  const payload = new Uint8Array(100 * MiB).fill(1);
  here.sendBytes(new Uint8Array(1)); // the child is up
  await here.recv();
  let peakKnown = true;
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch {
    peakKnown = false;
  }
  // Read after the reset: garbage of the rows before may be freed by then
  // (V8 frees large buffers on threads of its own).
  const before = procStatus("VmRSS") ?? Deno.memoryUsage().rss;
  here.sendBytes(payload);
  const sent = Deno.memoryUsage().rss;
  await here.recv();
  const received = Deno.memoryUsage().rss;
  const peak = peakKnown ? procStatus("VmHWM") : undefined;
  here.sendBytes(new Uint8Array(0));
  await p.join();
  here.close();
  return (peak ?? Math.max(sent, received)) - before;
}

/** ms for a 100 MiB ArrayBuffer there and back: moved, then copied. */
async function transferRows(): Promise<{ moved: number; copied: number }> {
  const [here, there] = Pipe<ArrayBuffer>();
  const p = start("worker", echoMoved, [there]);
  let buffer = new ArrayBuffer(100 * MiB);
  const moved = await timed(async () => {
    here.send(buffer, { transfer: [buffer] });
    buffer = await here.recv();
  }, 3);
  here.send(null as unknown as ArrayBuffer);
  await p.join();
  here.close();
  const [a, b] = Pipe<ArrayBuffer>();
  const q = start("worker", echo, [b]);
  const copied = await timed(async () => {
    a.send(buffer);
    await a.recv();
  }, 2);
  a.send(null as unknown as ArrayBuffer);
  await q.join();
  a.close();
  return { moved, copied };
}

/**
 * The largest timer lag (ms) in this process during a 100 MiB sendBytes
 * round trip to a child on `backend`: on a new pipe (its rings grow into
 * memory never touched), then the median of three more.
 */
async function sendLag(
  backend: Backend,
): Promise<{ first: number; then: number }> {
  const [here, there] = Pipe();
  const p = start(backend, echoBytes, [there]);
  here.sendBytes(new Uint8Array(1)); // the child is up
  await here.recvBytes();
  const payload = new Uint8Array(100 * MiB).fill(1);
  const lags: number[] = [];
  for (let i = 0; i < 4; i++) {
    const { lag } = await largestTimerLag(async () => {
      here.sendBytes(payload);
      await here.recvBytes();
      // A turn of the timers after the receive: its take, the last thing
      // the work does, blocks before the timer could see it otherwise.
      await new Promise((resolve) => setTimeout(resolve, 10));
    });
    lags.push(lag);
  }
  here.sendBytes(new Uint8Array(0));
  await p.join();
  here.close();
  return { first: lags[0], then: median(lags.slice(1)) };
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 5);
  const rows: Row[] = [];
  const ratios: Parameters<typeof report>[2] = [];
  const python = await runPython("bulk_bench.py", [
    String(runs),
    SCALING.join(","),
  ]);
  const paths = [
    "sendBytes",
    "Uint8Array",
    "ArrayBuffer",
    "Float64Array",
    "Queue",
    "Pool.map",
  ];
  for (const backend of ["worker", "subprocess"] as const) {
    const ours: Record<string, number> = {
      ...await pipeRows(backend, runs),
      Queue: await queueRow(backend, runs),
      "Pool.map": await poolRow(backend, runs),
    };
    for (const path of paths) {
      const what = `10 MiB round trip, ${path} (${backend})`;
      rows.push({ what, value: ours[path], unit: "ms" });
      ratios.push({
        what: `${what} / Python`,
        value: ours[path] / python[path],
        target: "<= 1.0",
        met: ours[path] <= python[path],
      });
    }
  }
  for (const path of paths) {
    rows.push({
      what: `10 MiB round trip, ${path} (Python spawn)`,
      value: python[path],
      unit: "ms",
    });
  }
  const into64 = await intoScaling(runs);
  const raw64 = await rawScaling(runs);
  const ms = await scaling(runs);
  const rss = await rssGrowth();
  const pyScaling = python.scaling as unknown as Record<string, number>;
  for (const size of SCALING) {
    rows.push({
      what: `sendBytes round trip, ${size / 1024} KiB (worker; Python ${
        pyScaling[size].toFixed(2)
      } ms)`,
      value: ms[size],
      unit: "ms",
    });
    ratios.push({
      what: `${size / 1024} KiB round trip / Python`,
      value: ms[size] / pyScaling[size],
      target: "<= 1.0",
      met: ms[size] <= pyScaling[size],
    });
  }
  const py64 = pyScaling[STEADY_SIZE];
  const pyInto64 = python.into64 as unknown as number;
  rows.push({
    what:
      `recvBytesInto round trip, 64 KiB, new pipe, one buffer a side (worker; Python recv_bytes_into ${
        pyInto64.toFixed(2)
      } ms)`,
    value: into64,
    unit: "ms",
  });
  ratios.push({
    what: "64 KiB recvBytesInto round trip, new pipe / Python recv_bytes_into",
    value: into64 / pyInto64,
    target: "<= 1.0",
    met: into64 <= pyInto64,
  });
  rows.push({
    what: `raw postMessage round trip, 64 KiB, new channel (Python ${
      py64.toFixed(2)
    } ms)`,
    value: raw64,
    unit: "ms",
  });
  ratios.push({
    what: "64 KiB round trip, new pipe / raw postMessage, new channel",
    value: ms[STEADY_SIZE] / raw64,
    target: "(reported)",
    met: true,
  }, {
    what: "64 KiB raw postMessage, new channel / Python (the runtime's own)",
    value: raw64 / py64,
    target: "(reported)",
    met: true,
  });
  rows.push({
    what:
      `sendBytes round trip, 64 KiB after 256 MiB of trips (worker; Python ${
        pyScaling.steady.toFixed(2)
      } ms)`,
    value: ms.steady,
    unit: "ms",
  });
  ratios.push({
    what: "64 KiB round trip after 256 MiB of trips / Python",
    value: ms.steady / pyScaling.steady,
    target: "<= 1.0",
    met: ms.steady <= pyScaling.steady,
  });
  const perMiB = (size: number) => ms[size] / (size / MiB);
  ratios.push({
    what: "ms per MiB at 100 MiB / at 1 MiB (linear growth)",
    value: perMiB(100 * MiB) / perMiB(MiB),
    target: "<= 2",
    met: perMiB(100 * MiB) / perMiB(MiB) <= 2,
  });
  // Python's own growth on the same machine in the same run: the cost of
  // fresh memory at 100 MiB is the machine's (see the README).
  const pyPerMiB = (size: number) => pyScaling[size] / (size / MiB);
  ratios.push({
    what: "Python: ms per MiB at 100 MiB / at 1 MiB",
    value: pyPerMiB(100 * MiB) / pyPerMiB(MiB),
    target: "(reported)",
    met: true,
  });
  rows.push({
    what: "RSS growth while a Worker child receives a 100 MiB message",
    value: rss / MiB,
    unit: "MiB",
  });
  ratios.push({
    what: "RSS growth / payload, 100 MiB",
    value: rss / (100 * MiB),
    target: "< 3",
    met: rss < 3 * 100 * MiB,
  });
  const { moved, copied } = await transferRows();
  rows.push({
    what: "100 MiB ArrayBuffer round trip with transfer (worker)",
    value: moved,
    unit: "ms",
  }, {
    what: "same, copied",
    value: copied,
    unit: "ms",
  });
  ratios.push({
    what: "transfer / copy, 100 MiB",
    value: moved / copied,
    target: "< 0.1",
    met: moved < copied / 10,
  });
  for (const backend of ["worker", "subprocess"] as const) {
    const { first, then } = await sendLag(backend);
    rows.push({
      what:
        `largest timer lag, 100 MiB sendBytes round trip (${backend}), new pipe`,
      value: first,
      unit: "ms",
    });
    ratios.push({
      what:
        `largest timer lag, first 100 MiB round trip on a new pipe (${backend}), ms`,
      value: first,
      target: "< 50",
      met: first < 50,
    }, {
      what: `largest timer lag, 100 MiB round trip (${backend}), ms`,
      value: then,
      target: "< 50",
      met: then < 50,
    });
  }
  report("Large messages (median ms per round trip)", rows, ratios);
}
