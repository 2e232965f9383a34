// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for connection_test.ts, poll_test.ts,
// timeouts_test.ts and pickling_connections_test.ts (CPython's
// _TestConnection, _TestPoll, TestTimeouts and _TestPicklingConnections).
import { type Address, Client } from "../connection.ts";
import type { Connection } from "../pipe.ts";
import { sleep } from "./_util.ts";

/** _TestConnection._echo: echoes byte messages until an empty one. */
export async function echo(conn: Connection): Promise<void> {
  for (
    let msg = await conn.recvBytes();
    msg.length !== 0;
    // SENTINEL
    msg = await conn.recvBytes()
  ) {
    conn.sendBytes(msg);
  }
  conn.close();
}

export async function childStrings(
  conn: Connection,
  strings: Uint8Array[],
): Promise<void> {
  for (const s of strings) {
    await sleep(100);
    conn.sendBytes(s);
  }
  conn.close();
}

export async function childBoundaries(r: Connection): Promise<void> {
  // Polling may "pull" a message in to the child process, but we don't want
  // it to pull only part of a message, as that would corrupt the pipe for
  // any other processes which might later read from it.
  await r.poll(5000);
}

export function childDontMerge(b: Connection): void {
  b.sendBytes(new Uint8Array([0x61])); // b'a'
  b.sendBytes(new Uint8Array([0x62])); // b'b'
  b.sendBytes(new Uint8Array([0x63, 0x64])); // b'cd'
}

/** TestTimeouts._test_timeout. */
export async function timeoutChild(
  child: Connection,
  address: Address,
): Promise<void> {
  await sleep(1000);
  child.send(123);
  child.close();
  const conn = await Client(address);
  await conn.send(456);
  conn.close();
}

/** _TestPicklingConnections.child_access: uses the ends it is sent. */
export async function childAccess(conn: Connection): Promise<void> {
  const w = await conn.recv() as Connection;
  w.send("all is well");
  w.close();

  const r = await conn.recv() as Connection;
  const msg = await r.recv() as string;
  conn.send(msg.repeat(2));

  conn.close();
}
