// Targets for pipe_test.ts: a child imports its target by name, so each is
// exported here.
import type { Connection } from "../pipe.ts";
import { Process } from "../process.ts";
import type { Queue } from "../queue.ts";

/** Sends each value, then closes. */
export function sendAll(conn: Connection, values: unknown[]): void {
  for (const value of values) conn.send(value);
  conn.close();
}

/** Sends `count` numbers 0..count-1 and returns without closing. */
export function sendCountNoClose(conn: Connection, count: number): void {
  for (let i = 0; i < count; i++) conn.send(i);
}

/** Sends each value, then stays alive, idle, until terminated. */
export function sendThenIdle(
  conn: Connection,
  values: unknown[],
): Promise<void> {
  for (const value of values) conn.send(value);
  return new Promise(() => {});
}

/** Sends back every message until EOF, then closes. */
export async function echo(conn: Connection): Promise<void> {
  for await (const message of conn) conn.send(message);
  conn.close();
}

/** As `echo`, but each message is received with recvSync. */
export function echoSync(conn: Connection): void {
  for (;;) {
    let message: unknown;
    try {
      message = conn.recvSync();
    } catch (error) {
      if ((error as Error).name === "EOFError") break;
      throw error;
    }
    conn.send(message);
  }
  conn.close();
}

/**
 * Sends `limit + 1` bytes every way (each must throw at once), then a
 * message of `limit` bytes, and the name and message of each error.
 */
export function sendOverMaximum(conn: Connection, limit: number): void {
  const big = new Uint8Array(limit + 1).fill(1);
  const errors: string[] = [];
  for (
    const attempt of [
      () => conn.sendBytes(big),
      () => conn.send(big),
      () => conn.send({ inside: [big.buffer] }),
    ]
  ) {
    try {
      attempt();
      errors.push("sent");
    } catch (error) {
      errors.push(`${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  conn.sendBytes(big, 1);
  conn.send(errors);
  conn.close();
}

/**
 * Puts an item larger than a queue holds (1 GiB of untouched memory: the
 * put must refuse it before copying), then the error's name and message.
 */
export async function putOverMaximum(q: Queue): Promise<void> {
  try {
    await q.put(new ArrayBuffer(2 ** 30));
    await q.put("sent");
  } catch (error) {
    await q.put(`${(error as Error).name}: ${(error as Error).message}`);
  }
}

/**
 * Tries each way to put an item one byte over `limit` on a queue made with
 * that `maxMessageBytes`, then puts one of `limit` bytes, then the errors'
 * names and messages.
 */
export async function putOverMaxMessageBytes(
  q: Queue,
  limit: number,
): Promise<void> {
  const big = new Uint8Array(limit + 1).fill(1);
  const errors: string[] = [];
  for (
    const attempt of [
      () => q.put(big),
      () => q.putNowait(big),
      () => q.putSync(big),
      () => q.put({ inside: big }),
    ]
  ) {
    try {
      await attempt();
      errors.push("put");
    } catch (error) {
      errors.push(`${(error as Error).name}: ${(error as Error).message}`);
    }
  }
  await q.put(big.subarray(1));
  await q.put(errors);
}

/**
 * Receives `count` numbers with recvSync, sends back their sum, then blocks
 * in recvSync until the parent closes its end: that must be EOF.
 */
export function sumSync(
  conn: Connection<number | number[]>,
  count: number,
): void {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += conn.recvSync() as number;
  conn.send([sum, count]);
  try {
    const extra = conn.recvSync();
    throw new Error(`expected EOF, got ${extra}`);
  } catch (error) {
    if ((error as Error).name !== "EOFError") throw error;
  }
  conn.close();
}

/** Passes `conn` to a grandchild that sends `value` on it and closes it. */
export async function viaGrandchild(
  conn: Connection,
  value: unknown,
): Promise<void> {
  const p = new Process({
    target: { module: import.meta.url, export: "sendAll" },
    args: [conn, [value]],
  });
  p.start();
  const code = await p.join();
  if (code !== 0) throw new Error(`grandchild ended with ${code}`);
}

/**
 * Receives a connection inside a message on `control`, sends `value` on it
 * and closes both.
 */
export async function useReceivedConnection(
  control: Connection<{ conn: Connection }>,
  value: unknown,
): Promise<void> {
  const { conn } = await control.recv();
  conn.send(value);
  conn.close();
  control.close();
}

/** Sends bytes (a slice of them), then closes. */
export function sendBytesSlice(conn: Connection, text: string): void {
  conn.sendBytes(new TextEncoder().encode(text), 2, 3);
  conn.close();
}

/**
 * One of several writers into one end: sends `[id, 0]`..`[id, count - 1]`,
 * and after every tenth a 50 kB byte message filled with `id`.
 */
export function sendNumbered(
  conn: Connection,
  id: number,
  count: number,
): void {
  for (let n = 0; n < count; n++) {
    conn.send([id, n]);
    if (n % 10 === 9) conn.sendBytes(new Uint8Array(50_000).fill(id));
  }
  conn.close();
}

/**
 * One of several readers of one end: sums the numbers (or `{ n }`) it
 * reads until `null`, then puts `[how many, sum]` on `results`.
 */
export async function sumUntilNull(
  conn: Connection<{ n: number } | number | null>,
  results: Queue<[number, number]>,
): Promise<void> {
  let count = 0;
  let sum = 0;
  for (;;) {
    const message = await conn.recv();
    if (message === null) break;
    count++;
    sum += typeof message === "number" ? message : message.n;
  }
  await results.put([count, sum]);
}

/**
 * Receives with recvBytesInto into one buffer of `room` bytes and sends
 * each message back with sendBytes, until EOF. First it reports (sends)
 * the names of the errors of two bad calls, which must take no message;
 * a message that does not fit is answered `["tooShort", its length]`.
 */
export async function echoInto(conn: Connection, room: number): Promise<void> {
  const buffer = new Uint8Array(room);
  for (
    const bad of [
      () => conn.recvBytesInto("not memory" as never),
      () => conn.recvBytesInto(buffer, room + 1),
    ]
  ) {
    await bad().catch((error: Error) => conn.send(error.name));
  }
  for (;;) {
    let size: number;
    try {
      size = await conn.recvBytesInto(buffer);
    } catch (error) {
      const { name, bytes } = error as Error & { bytes: Uint8Array };
      if (name === "EOFError") break;
      if (name !== "BufferTooShort") throw error;
      conn.send(["tooShort", bytes.length]);
      continue;
    }
    conn.sendBytes(buffer, 0, size);
  }
  conn.close();
}

/**
 * Receives with `calls` recv() calls pending at once and sends back, in
 * the order they settled, each call's index and what it got (a byte
 * message's length, else the value).
 */
export async function recvAtOnce(
  conn: Connection,
  calls: number,
): Promise<void> {
  const settled: [number, unknown][] = [];
  await Promise.all(
    Array.from({ length: calls }, (_, index) =>
      conn.recv().then((message) => {
        settled.push([
          index,
          message instanceof Uint8Array ? message.length : message,
        ]);
      })),
  );
  conn.send(settled);
  conn.close();
}
