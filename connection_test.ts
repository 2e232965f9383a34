// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Listener and Client against real Python (python3's own Listener and
// Client, over TCP loopback and Unix sockets), and against peers that send
// garbage, too much, or stall. Every Python peer is started by its test and
// killed in `finally`; nothing listens beyond loopback.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  Client,
  Listener,
  type SocketConnection,
  Tuple,
  tuple,
} from "./connection.ts";
import {
  AuthenticationError,
  BufferTooShort,
  EOFError,
  ProcessError,
  TimeoutError,
} from "./errors.ts";
import { ffiSocketsOpen } from "./_net/socket.ts";
import { loads } from "./_pickle/pickle.ts";
import { socketCalls } from "./_shm/ffi/libc.ts";

const LOOPBACK = { hostname: "127.0.0.1", port: 0 };

/**
 * Registers a test twice: on the sockets this library picks (its own FFI
 * sockets, where FFI is granted on Linux), and on Deno's sockets
 * (`MP_SOCKET=deno` while it runs; connections made meanwhile keep theirs).
 */
function socketTest(name: string, fn: () => void | Promise<void>): void {
  Deno.test(name, fn);
  Deno.test(`${name} [Deno sockets]`, async () => {
    Deno.env.set("MP_SOCKET", "deno");
    try {
      await fn();
    } finally {
      Deno.env.delete("MP_SOCKET");
    }
  });
}
const KEY = "a shared secret";

/**
 * A Python peer: `listen ADDRESS KEY` serves connections on a Python
 * Listener (and prints its address, then "rejected" for each peer that
 * fails the handshake); `connect ADDRESS KEY` connects with a Python Client
 * and serves that one connection. Serving: receive (kind, value) and answer.
 */
const PEER = `
import json, sys
from multiprocessing import AuthenticationError, BufferTooShort
from multiprocessing.connection import Client, Listener

def serve(conn):
    while True:
        try:
            kind, value = conn.recv()
        except EOFError:
            return
        if kind == "echo":
            conn.send(value)
        elif kind == "repr":
            conn.send(repr(value))
        elif kind == "bytes":
            conn.send_bytes(conn.recv_bytes())
        elif kind == "raise":
            conn.send(KeyError(value))
        elif kind == "into":
            room, offset = value
            buffer = bytearray(room)
            try:
                size = conn.recv_bytes_into(buffer, offset)
                conn.send((size, bytes(buffer)))
            except BufferTooShort as error:
                conn.send(("BufferTooShort", len(error.args[0])))

mode, where, key = sys.argv[1:4]
address = where if where.startswith("/") else ("127.0.0.1", int(where))
authkey = key.encode() if key != "-" else None
if mode == "listen":
    with Listener(address, authkey=authkey) as listener:
        print(json.dumps(listener.address), flush=True)
        while True:
            try:
                conn = listener.accept()
            except AuthenticationError:
                print("rejected", flush=True)
                continue
            with conn:
                serve(conn)
else:
    try:
        conn = Client(address, authkey=authkey)
    except AuthenticationError as error:
        print("AuthenticationError", error, flush=True)
        sys.exit(3)
    print("connected", flush=True)
    with conn:
        serve(conn)
`;

/** A running `python3` peer; disposing it kills it and waits for its end. */
class PythonPeer implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  #buffer = "";

  constructor(args: string[]) {
    this.#child = new Deno.Command("python3", {
      args: ["-c", PEER, ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.#child.stdout.pipeThrough(new TextDecoderStream())
      [Symbol.asyncIterator]();
  }

  /** The next line the peer prints. */
  async line(): Promise<string> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        return line;
      }
      const next = await this.#lines.next();
      if (next.done) throw new Error("The Python peer ended without a line");
      this.#buffer += next.value;
    }
  }

  /** The peer's exit code, once it ends by itself. */
  async code(): Promise<number> {
    return (await this.#child.status).code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Ended already.
    }
    await this.#child.status;
    await this.#lines.return?.();
  }
}

/** A Python Listener on `where` ("0" for a TCP port, or a path). */
async function pythonListener(
  where: string,
  key = KEY,
): Promise<
  { peer: PythonPeer; address: string | { hostname: string; port: number } }
> {
  const peer = new PythonPeer(["listen", where, key]);
  const address = JSON.parse(await peer.line());
  return {
    peer,
    address: typeof address === "string"
      ? address
      : { hostname: address[0], port: address[1] },
  };
}

function whereOf(address: string | { port: number }): string {
  return typeof address === "string" ? address : String(address.port);
}

/** A temporary folder for Unix sockets, removed by disposing. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "mp_conn_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

const NESTED = {
  name: "héllo ✓",
  list: [1, -2, 3.5, null, true, false, [[]]],
  pair: tuple("a", 1),
  nested: { deeper: { deepest: ["x"] } },
  set: new Set([1, 2, 3]),
  ints: [2 ** 31, -(2 ** 31) - 1, 2n ** 64n, -(2n ** 100n), 2n ** 1000n],
};
const NESTED_REPR =
  "{'name': 'héllo ✓', 'list': [1, -2, 3.5, None, True, False, [[]]], 'pair': ('a', 1), 'nested': {'deeper': {'deepest': ['x']}}, 'set': {1, 2, 3}, 'ints': [2147483648, -2147483649, 18446744073709551616, -1267650600228229401496703205376, " +
  (2n ** 1000n).toString() + "]}";

/** Checks a connection whose other end is a Python `serve` loop. */
async function roundTrips(conn: SocketConnection): Promise<void> {
  await conn.send(tuple("repr", NESTED));
  assert.equal(await conn.recv(), NESTED_REPR);
  await conn.send(tuple("echo", NESTED));
  const back = await conn.recv() as typeof NESTED;
  assert(back.pair instanceof Tuple);
  assert.deepEqual({ ...back, pair: [...back.pair] }, {
    ...NESTED,
    pair: ["a", 1],
  });
  const mib = crypto.getRandomValues(new Uint8Array(65536));
  const big = new Uint8Array(1024 * 1024);
  for (let at = 0; at < big.length; at += mib.length) big.set(mib, at);
  await conn.send(tuple("echo", big));
  assert.deepEqual(await conn.recv(), big);
  await conn.send(tuple("bytes", null));
  await conn.sendBytes(big);
  assert.deepEqual(await conn.recvBytes(), big);
  await conn.send(tuple("raise", "missing"));
  const error = await conn.recv() as Error;
  assert(error instanceof Error);
  assert.equal(error.name, "KeyError");
  assert.equal(error.message, "missing");
}

for (const transport of ["tcp", "unix"] as const) {
  socketTest(
    `connection (${transport}): a Deno Client talks to a Python Listener`,
    async () => {
      await using dir = await tempDir();
      const where = transport === "tcp" ? "0" : `${dir.path}/py.sock`;
      const { peer, address } = await pythonListener(where);
      await using _peer = peer;
      {
        await using conn = await Client(address, { authkey: KEY });
        await roundTrips(conn);
      }
      // A wrong key: refused by Python, which goes on serving.
      await assert.rejects(
        Client(address, { authkey: "wrong key" }),
        AuthenticationError,
      );
      assert.equal(await peer.line(), "rejected");
      await using again = await Client(address, { authkey: KEY });
      await again.send(tuple("echo", "still serving"));
      assert.equal(await again.recv(), "still serving");
    },
  );

  socketTest(
    `connection (${transport}): a Python Client talks to a Deno Listener`,
    async () => {
      await using dir = await tempDir();
      const rejected: Error[] = [];
      await using listener = new Listener(
        transport === "tcp" ? LOOPBACK : `${dir.path}/deno.sock`,
        { authkey: KEY, onReject: (error) => rejected.push(error) },
      );
      const where = whereOf(listener.address as string | { port: number });
      {
        await using peer = new PythonPeer(["connect", where, KEY]);
        await using conn = await listener.accept();
        assert.equal(await peer.line(), "connected");
        await roundTrips(conn);
      }
      // A wrong key: Python is told, the listener drops it and serves on.
      {
        await using intruder = new PythonPeer(["connect", where, "wrong key"]);
        assert.match(await intruder.line(), /^AuthenticationError/);
        assert.equal(await intruder.code(), 3);
      }
      await using peer = new PythonPeer(["connect", where, KEY]);
      await using conn = await listener.accept();
      assert.equal(rejected.length, 1);
      assert(rejected[0] instanceof AuthenticationError);
      await conn.send(tuple("echo", 2n ** 200n));
      assert.equal(await conn.recv(), 2n ** 200n);
      await peer.line();
    },
  );
}

for (const transport of ["tcp", "unix"] as const) {
  socketTest(
    `connection (${transport}): recvBytesInto() of what Python sends, and Python's recv_bytes_into() of what we send`,
    async () => {
      await using dir = await tempDir();
      const where = transport === "tcp" ? "0" : `${dir.path}/py.sock`;
      const { peer, address } = await pythonListener(where);
      await using _peer = peer;
      await using conn = await Client(address, { authkey: KEY });
      const sent = new Uint8Array(100_000);
      for (let at = 0; at < sent.length; at += 50_000) {
        crypto.getRandomValues(sent.subarray(at, at + 50_000));
      }
      const buffer = new Float64Array(100_000 / 8 + 2);
      const bytes = new Uint8Array(buffer.buffer);
      // Python's send_bytes, into our buffer at an offset, twice.
      for (let round = 0; round < 2; round++) {
        await conn.send(tuple("bytes", null));
        await conn.sendBytes(sent);
        assert.equal(await conn.recvBytesInto(buffer, 16), sent.length);
        assert.deepEqual(bytes.subarray(16), sent);
      }
      // Too short: the whole message on the error, the next one follows.
      await conn.send(tuple("bytes", null));
      await conn.sendBytes(sent);
      await conn.send(tuple("echo", "next"));
      const error = await conn.recvBytesInto(buffer, 17).catch((e) => e);
      assert(error instanceof BufferTooShort);
      assert.deepEqual(error.bytes, sent);
      assert.equal(await conn.recv(), "next");
      // Python's send() gives its pickle, which loads back.
      await conn.send(tuple("echo", [1, "two"]));
      const size = await conn.recvBytesInto(bytes);
      await conn.send(tuple("bytes", null));
      await conn.sendBytes(bytes.subarray(0, size));
      assert.deepEqual(await conn.recv(), [1, "two"]);
      // Python receives ours into its buffer: at an offset, exact, short.
      for (const [room, offset] of [[12, 2], [10, 0], [9, 0]]) {
        await conn.send(tuple("into", [room, offset]));
        await conn.sendBytes(sent.subarray(0, 10));
      }
      const padded = new Uint8Array(12);
      padded.set(sent.subarray(0, 10), 2);
      assert.deepEqual([...await conn.recv() as Tuple], [10, padded]);
      assert.deepEqual([...await conn.recv() as Tuple], [
        10,
        sent.slice(0, 10),
      ]);
      assert.deepEqual([...await conn.recv() as Tuple], [
        "BufferTooShort",
        10,
      ]);
    },
  );
}

socketTest(
  "connection: recvBytesInto() writes into any buffer or view at an offset; a message that does not fit is on the BufferTooShort; bad arguments read nothing",
  async () => {
    await using listener = new Listener(LOOPBACK);
    const accepted = listener.accept();
    await using client = await Client(listener.address);
    await using server = await accepted;
    const message = (length: number, first: number) =>
      Uint8Array.from({ length }, (_, i) => (first + i) & 0xff);
    // One buffer of 8-byte elements, message after message.
    const floats = new BigInt64Array(4);
    const floatBytes = new Uint8Array(floats.buffer);
    for (let round = 0; round < 3; round++) {
      await client.sendBytes(message(20, round));
      assert.equal(await server.recvBytesInto(floats, 5), 20);
      assert.deepEqual(floatBytes.subarray(5, 25), message(20, round));
    }
    assert.deepEqual(floatBytes.subarray(0, 5), new Uint8Array(5));
    assert.deepEqual(floatBytes.subarray(25), new Uint8Array(7));
    const under = new Uint8Array(16);
    await client.sendBytes(message(4, 100));
    assert.equal(
      await server.recvBytesInto(new DataView(under.buffer, 8, 6), 2),
      4,
    );
    assert.deepEqual(under.subarray(10, 14), message(4, 100));
    assert.equal(under.filter((byte) => byte !== 0).length, 4);
    for (const memory of [new ArrayBuffer(64), new SharedArrayBuffer(64)]) {
      await client.sendBytes(message(64, 9));
      assert.equal(await server.recvBytesInto(memory), 64);
      assert.deepEqual(new Uint8Array(memory), message(64, 9));
      await client.sendBytes(new Uint8Array(0));
      assert.equal(await server.recvBytesInto(memory, 64), 0);
    }
    // Large, in many reads, into a buffer large enough.
    const large = new Uint8Array(24 * 1024 * 1024 + 1);
    const sent = new Uint8Array(24 * 1024 * 1024);
    for (let i = 0; i < sent.length; i += 4093) sent[i] = i % 251;
    const sending = client.sendBytes(sent);
    assert.equal(await server.recvBytesInto(large, 1), sent.length);
    await sending;
    assert.equal(Buffer.compare(large.subarray(1), sent), 0);
    // Too short: on the error, whole; the next message follows.
    const room = new Uint8Array(8);
    await client.sendBytes(message(300_000, 3));
    await client.sendBytes(message(2, 1));
    const error = await server.recvBytesInto(room, 1).catch((e) => e);
    assert(error instanceof BufferTooShort);
    assert.deepEqual(error.bytes, message(300_000, 3));
    assert.match(error.message, /300000 bytes .* 7 bytes/);
    assert.deepEqual(room, new Uint8Array(8), "nothing written");
    assert.equal(await server.recvBytesInto(room), 2);
    // A message sent with send(): its pickle, what recvBytes() gives.
    await client.send(["pickled", 1]);
    const size = await server.recvBytesInto(large);
    assert.deepEqual(loads(large.subarray(0, size)), ["pickled", 1]);
    // Bad arguments: an error before anything is read.
    await client.sendBytes(new Uint8Array([42]));
    for (const offset of [-1, 9, 0.5, NaN]) {
      await assert.rejects(server.recvBytesInto(room, offset), RangeError);
    }
    for (const buffer of [undefined, [1], "text", {}]) {
      await assert.rejects(server.recvBytesInto(buffer as never), TypeError);
    }
    assert.deepEqual(await server.recvBytes(), new Uint8Array([42]));
    client.close();
    await assert.rejects(server.recvBytesInto(room), EOFError);
    server.close();
    await assert.rejects(server.recvBytesInto(room), /closed/);
  },
);

socketTest(
  "connection: a Unix listener removes its socket file when closed",
  async () => {
    await using dir = await tempDir();
    const path = `${dir.path}/gone.sock`;
    const listener = new Listener(path);
    assert((await Deno.lstat(path)).isSocket);
    listener.close();
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  },
);

socketTest(
  "connection: Deno to Deno with a key, both ways, and a wrong key",
  async () => {
    const rejected: Error[] = [];
    await using listener = new Listener(LOOPBACK, {
      authkey: new TextEncoder().encode(KEY),
      onReject: (error) => rejected.push(error),
    });
    const accepted = listener.accept();
    await assert.rejects(
      Client(listener.address, { authkey: "wrong" }),
      AuthenticationError,
    );
    await using client = await Client<unknown>(listener.address, {
      authkey: KEY,
    });
    await using server = await accepted;
    assert.equal(rejected.length, 1);
    assert(rejected[0] instanceof AuthenticationError);
    await server.send([1n, 2 ** 60, -0]);
    assert.deepEqual(await client.recv(), [1, 2 ** 60, -0]);
  },
);

socketTest(
  "connection: the structured-clone format carries what pickle cannot",
  async () => {
    await using listener = new Listener(LOOPBACK, {
      serializer: "structured-clone",
    });
    const accepted = listener.accept();
    await using client = await Client(listener.address, {
      serializer: "structured-clone",
    });
    await using server = await accepted;
    const cyclic: Record<string, unknown> = { when: new Date(0) };
    cyclic.self = cyclic;
    cyclic.floats = new Float64Array([1.5]);
    await client.send(cyclic);
    const got = await server.recv() as typeof cyclic;
    assert.equal(got.self, got);
    assert.deepEqual(got.when, new Date(0));
    assert.deepEqual(got.floats, new Float64Array([1.5]));
    await assert.rejects(client.send(() => 1), TypeError);
  },
);

/** A raw socket to `listener`, to send what no good peer would. */
async function rawTo(listener: Listener): Promise<Deno.TcpConn> {
  const { port } = listener.address as { port: number };
  return await Deno.connect({ hostname: "127.0.0.1", port });
}

function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setInt32(0, payload.length);
  out.set(payload, 4);
  return out;
}

socketTest(
  "connection: garbage, an oversized message and a stall each fail their own connection",
  async () => {
    await using listener = new Listener(LOOPBACK, {
      maxMessageBytes: 1024,
      timeout: 200,
    });
    // Not a pickle: a clear error, and the connection goes on.
    {
      using raw = await rawTo(listener);
      using conn = await listener.accept();
      await raw.write(frame(new TextEncoder().encode("hello")));
      await raw.write(frame(Uint8Array.of(0x80, 4, 0x4b, 7, 0x2e)));
      await assert.rejects(conn.recv(), {
        name: "TypeError",
        message: /Cannot unpickle/,
      });
      assert.equal(await conn.recv(), 7);
    }
    // The long form of the length (-1, then 8 bytes), as Python writes past
    // 2 GiB, is read too.
    {
      using raw = await rawTo(listener);
      using conn = await listener.accept();
      const long = new Uint8Array(12 + 3);
      new DataView(long.buffer).setInt32(0, -1);
      new DataView(long.buffer).setBigUint64(4, 3n);
      long.set([1, 2, 3], 12);
      await raw.write(long);
      assert.deepEqual(await conn.recvBytes(), Uint8Array.of(1, 2, 3));
    }
    // Over the maximum, or a bad length: the connection is closed.
    for (const bytes of [new Uint8Array(2000), new Uint8Array(4).fill(0xf0)]) {
      using raw = await rawTo(listener);
      using conn = await listener.accept();
      await raw.write(bytes.length === 4 ? bytes : frame(bytes));
      await assert.rejects(conn.recvBytes(), ProcessError);
      assert.equal(conn.closed, true);
      await assert.rejects(conn.recv(), ProcessError);
    }
    // A peer that stops in the middle of a message.
    {
      using raw = await rawTo(listener);
      using conn = await listener.accept();
      await raw.write(frame(new Uint8Array(100)).subarray(0, 50));
      await assert.rejects(conn.recvBytes(), TimeoutError);
      assert.equal(conn.closed, true);
    }
    // A peer that closes in the middle of a message.
    {
      const raw = await rawTo(listener);
      using conn = await listener.accept();
      await raw.write(frame(new Uint8Array(100)).subarray(0, 50));
      raw.close();
      await assert.rejects(conn.recvBytes(), EOFError);
    }
    // The listener still serves.
    await using client = await Client(listener.address);
    await using conn = await listener.accept();
    await client.send("fine");
    assert.equal(await conn.recv(), "fine");
  },
);

socketTest(
  "connection: a peer that stalls or babbles in the handshake delays no other",
  async () => {
    const rejected: Error[] = [];
    const bothRejected = Promise.withResolvers<void>();
    await using listener = new Listener(LOOPBACK, {
      authkey: KEY,
      timeout: 300,
      onReject: (error) => {
        if (rejected.push(error) === 2) bothRejected.resolve();
      },
    });
    const accepted = listener.accept();
    using _silent = await rawTo(listener);
    using babbler = await rawTo(listener);
    await babbler.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    await using client = await Client(listener.address, { authkey: KEY });
    await using conn = await accepted;
    await client.send("through");
    assert.equal(await conn.recv(), "through");
    // The two bad peers are dropped: one by its garbage, one by the timeout.
    await bothRejected.promise;
    const names = rejected.map((error) => error.name).sort();
    assert.deepEqual(names, ["AuthenticationError", "TimeoutError"].sort());
  },
);

socketTest("connection: a listener beyond loopback needs an authkey", () => {
  assert.throws(
    () => new Listener({ hostname: "0.0.0.0", port: 0 }),
    { name: "ProcessError", message: /without an authkey/ },
  );
  assert.throws(
    () => new Listener({ hostname: "localhost", port: 70000 }),
    TypeError,
  );
  assert.throws(
    () => new Listener(LOOPBACK, { maxMessageBytes: 0 }),
    RangeError,
  );
});

socketTest(
  "connection: closing ends waits and EOF reaches the peer",
  async () => {
    const listener = new Listener(LOOPBACK);
    const waiting = listener.accept();
    listener.close();
    await assert.rejects(waiting, /closed/);
    await assert.rejects(listener.accept(), /closed/);
    await assert.rejects(Client(listener.address), ProcessError);

    await using second = new Listener(LOOPBACK);
    const accepted = second.accept();
    const client = await Client(second.address);
    await using server = await accepted;
    const pending = server.recv();
    client.close();
    await assert.rejects(pending, EOFError);
    await assert.rejects(client.send(1), /closed/);
  },
);

// ---------------------------------------------- the FFI sockets' edges

/** Where this library's FFI sockets cannot be had, their tests are off. */
const FFI = {
  ignore: Deno.build.os !== "linux" || socketCalls() === null ||
    Deno.env.get("MP_SOCKET") === "deno",
};

/** How many descriptors this process has open. */
function openDescriptors(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test({
  name:
    "connection (FFI sockets): the library's own sockets are used, and none is left open",
  ...FFI,
  async fn() {
    const descriptors = openDescriptors();
    const sockets = ffiSocketsOpen();
    await using dir = await tempDir();
    for (const address of [LOOPBACK, `${dir.path}/fds.sock`]) {
      const listener = new Listener(address, { authkey: KEY });
      assert.equal(ffiSocketsOpen(), sockets + 1);
      const clients = [];
      const servers = [];
      for (let i = 0; i < 20; i++) {
        const accepted = listener.accept();
        clients.push(await Client<number>(listener.address, { authkey: KEY }));
        servers.push(await accepted);
      }
      assert.equal(ffiSocketsOpen(), sockets + 41);
      await Promise.all(clients.map((client, i) => client.send(i)));
      assert.deepEqual(
        await Promise.all(servers.map((server) => server.recv())),
        clients.map((_, i) => i),
      );
      // Receives left waiting (on Deno's pool) end when closed.
      const waiting = servers.map((server) =>
        assert.rejects(server.recv(), ProcessError)
      );
      for (const connection of [...clients, ...servers]) connection.close();
      await Promise.all(waiting);
      listener.close();
    }
    await eventuallyEqual(() => ffiSocketsOpen(), sockets);
    await eventuallyEqual(openDescriptors, descriptors);
  },
});

/** Waits until `read()` gives `expected` (a descriptor closes once its poll returned). */
async function eventuallyEqual(
  read: () => number,
  expected: number,
): Promise<void> {
  for (let i = 0; i < 200 && read() !== expected; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(read(), expected);
}

Deno.test({
  name:
    "connection (FFI sockets): close() ends a receive waiting on the pool, and a waiting accept",
  ...FFI,
  async fn() {
    await using listener = new Listener(LOOPBACK);
    const accepted = listener.accept();
    await using client = await Client(listener.address);
    const server = await accepted;
    const pending = server.recv();
    // Past the brief wait: the receive is parked on Deno's pool.
    assert.equal(await client.poll(50), false);
    server.close();
    await assert.rejects(pending, {
      name: "ProcessError",
      message: /closed while a receive waited/,
    });
    await assert.rejects(client.recv(), EOFError);

    const other = new Listener(LOOPBACK);
    const accepting = other.accept();
    await new Promise((resolve) => setTimeout(resolve, 20));
    other.close();
    await assert.rejects(accepting, /closed/);
  },
});

Deno.test({
  name:
    "connection (FFI sockets): a peer that is killed is an EOF, and a send to it a ProcessError",
  ...FFI,
  async fn() {
    for (const where of ["0", "unix"]) {
      await using dir = await tempDir();
      await using listener = new Listener(
        where === "0" ? LOOPBACK : `${dir.path}/killed.sock`,
        { authkey: KEY },
      );
      const accepted = listener.accept();
      const peer = new PythonPeer([
        "connect",
        whereOf(listener.address as string | { port: number }),
        KEY,
      ]);
      await using conn = await accepted;
      assert.equal(await peer.line(), "connected");
      const pending = assert.rejects(conn.recv(), EOFError);
      await peer[Symbol.asyncDispose](); // SIGKILL, and waits for its end.
      await pending;
      // Sends fail once the kernel knows the peer is gone (SIGPIPE is not
      // raised: this process lives on to see the error).
      await assert.rejects(async () => {
        for (let i = 0; i < 100; i++) {
          await conn.sendBytes(new Uint8Array(1024));
        }
      }, ProcessError);
    }
  },
});

Deno.test({
  name:
    "connection (FFI sockets): messages larger than the socket's buffers, both ways at once",
  ...FFI,
  async fn() {
    await using listener = new Listener(LOOPBACK);
    const accepted = listener.accept();
    await using client = await Client(listener.address, {
      maxMessageBytes: 64 * 1024 * 1024,
    });
    await using server = await accepted;
    const big = new Uint8Array(24 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i / 4096;
    // Neither end reads before it has written: each write waits for room.
    const sent = Promise.all([client.sendBytes(big), server.sendBytes(big)]);
    const [there, back] = await Promise.all([
      server.recvBytes(),
      client.recvBytes(),
    ]);
    await sent;
    assert.deepEqual(there, big);
    assert.deepEqual(back, big);
  },
});

/** Runs `code` in a new `deno run` with `flags`; its output and exit code. */
async function denoRun(
  flags: string[],
  code: string,
): Promise<{ code: number; out: string }> {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(script, code);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...flags, script],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    try {
      const output = await child.output();
      return {
        code: output.code,
        out: new TextDecoder().decode(output.stdout) +
          new TextDecoder().decode(output.stderr),
      };
    } finally {
      clearTimeout(killer);
    }
  } finally {
    await Deno.remove(script);
  }
}

const CONNECTION_URL = new URL("./connection.ts", import.meta.url).href;
const SOCKET_URL = new URL("./_net/socket.ts", import.meta.url).href;

Deno.test({
  name:
    "connection (FFI sockets): without --allow-net FFI changes nothing; without --allow-ffi Deno's sockets serve",
  ...FFI,
  async fn() {
    const pair = `
      import { Client, Listener } from "${CONNECTION_URL}";
      import { ffiSocketsOpen } from "${SOCKET_URL}";
      try {
        await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
        const accepted = listener.accept();
        await using client = await Client(listener.address);
        await using server = await accepted;
        await client.send("over " + (ffiSocketsOpen() ? "ffi" : "deno"));
        console.log(await server.recv());
      } catch (error) {
        console.log(error.name, error.message);
      }
    `;
    // FFI granted, but not the network: the error Deno's sockets give.
    const denied = await denoRun(["--allow-ffi", "--allow-env"], pair);
    assert.match(
      denied.out,
      /ProcessError Cannot listen on 127.0.0.1:0: Requires net access to "127.0.0.1:0"/,
    );
    // The network, but no FFI: Deno's sockets.
    const plain = await denoRun(["--allow-net", "--allow-env"], pair);
    assert.equal(plain.out.trim(), "over deno");
    const both = await denoRun(
      ["--allow-net", "--allow-ffi", "--allow-env"],
      pair,
    );
    assert.equal(both.out.trim(), "over ffi");
  },
});

Deno.test({
  name:
    "connection (FFI sockets): a receive left waiting after a poll() timed out does not keep the process alive",
  ...FFI,
  async fn() {
    const idle = `
      import { Client, Listener } from "${CONNECTION_URL}";
      const listener = new Listener({ hostname: "127.0.0.1", port: 0 });
      const accepted = listener.accept();
      const client = await Client(listener.address);
      const server = await accepted;
      console.log(await server.poll(20), await client.poll(0));
      // Nothing closes them: the process ends as with Deno's sockets.
    `;
    const run = await denoRun(
      ["--allow-net", "--allow-ffi", "--allow-env"],
      idle,
    );
    assert.equal(run.out.trim(), "false false");
    assert.equal(run.code, 0);
  },
});
