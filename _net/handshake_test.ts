// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The challenge-response of every socket of the library: both forms of
// CPython's handshake, in memory, on a Unix socket, and against Python's own
// `multiprocessing.connection` where a python3 is installed.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { AuthenticationError } from "../errors.ts";
import {
  answerChallenge,
  type ByteChannel,
  clientHandshake,
  connChannel,
  deliverChallenge,
  HANDSHAKE_SOURCE,
  type HandshakeKit,
  newAuthkey,
  serverHandshake,
} from "./handshake.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Two connected in-memory channels that record what each end sent. */
function channelPair(): [ByteChannel & { sent: Uint8Array[] }, ByteChannel] {
  const make = () => {
    const inbox: Uint8Array[] = [];
    let waiter: (() => void) | undefined;
    return {
      inbox,
      push(bytes: Uint8Array) {
        inbox.push(bytes.slice());
        waiter?.();
      },
      async take(maxLength: number): Promise<Uint8Array> {
        while (!inbox.length) {
          await new Promise<void>((resolve) => waiter = resolve);
        }
        const bytes = inbox.shift()!;
        if (bytes.length > maxLength) throw new Error("bad message length");
        return bytes;
      },
    };
  };
  const a = make();
  const b = make();
  const sent: Uint8Array[] = [];
  return [
    {
      sent,
      sendBytes: (bytes) => {
        sent.push(bytes.slice());
        b.push(bytes);
        return Promise.resolve();
      },
      recvBytes: (max) => a.take(max),
    },
    {
      sendBytes: (bytes) => {
        a.push(bytes);
        return Promise.resolve();
      },
      recvBytes: (max) => b.take(max),
    },
  ];
}

Deno.test("handshake: both ends with the same key are welcomed, in CPython's 3.12 form", async () => {
  const key = newAuthkey();
  const [server, client] = channelPair();
  await Promise.all([
    serverHandshake(server, key),
    clientHandshake(client, key),
  ]);
  const challenge = decoder.decode(server.sent[0]);
  assert.match(challenge, /^#CHALLENGE#\{sha256\}/);
  assert.equal(server.sent[0].length, "#CHALLENGE#{sha256}".length + 40);
  assert.equal(decoder.decode(server.sent[1]), "#WELCOME#");
});

Deno.test("handshake: the answer is {sha256} and the HMAC-SHA256 of the message", async () => {
  const key = newAuthkey();
  const [server, client] = channelPair();
  const answering = answerChallenge(client, key);
  const message = encoder.encode(`{sha256}${"x".repeat(40)}`);
  await server.sendBytes(
    new Uint8Array([...encoder.encode("#CHALLENGE#"), ...message]),
  );
  const answer = await server.recvBytes(256);
  const expected = createHmac("sha256", key).update(message).digest();
  assert.deepEqual(
    answer,
    new Uint8Array([...encoder.encode("{sha256}"), ...expected]),
  );
  await server.sendBytes(encoder.encode("#WELCOME#"));
  await answering;
});

Deno.test("handshake: a wrong key fails on both sides with AuthenticationError", async () => {
  const [server, client] = channelPair();
  const results = await Promise.allSettled([
    serverHandshake(server, newAuthkey()),
    clientHandshake(client, newAuthkey()),
  ]);
  for (const result of results) {
    assert.equal(result.status, "rejected");
    assert(result.reason instanceof AuthenticationError, String(result.reason));
  }
  assert.equal(decoder.decode(server.sent.at(-1)), "#FAILURE#");
});

Deno.test("handshake: the legacy form (Python 3.11) is produced and understood", async () => {
  const key = newAuthkey();
  const [server, client] = channelPair();
  await Promise.all([
    deliverChallenge(server, key, "md5"),
    answerChallenge(client, key),
  ]);
  // 20 random bytes with no digest name, answered with a raw HMAC-MD5.
  assert.equal(server.sent[0].length, "#CHALLENGE#".length + 20);
  // A legacy client answers a 3.12 challenge with a raw HMAC-MD5 of it.
  const [server2, client2] = channelPair();
  const delivering = deliverChallenge(server2, key);
  const challenge = await client2.recvBytes(256);
  const message = challenge.subarray("#CHALLENGE#".length);
  await client2.sendBytes(createHmac("md5", key).update(message).digest());
  assert.equal(decoder.decode(await client2.recvBytes(256)), "#WELCOME#");
  await delivering;
});

Deno.test("handshake: junk, oversized and truncated answers are refused", async () => {
  const key = newAuthkey();
  for (
    const answer of [
      encoder.encode("{sha256}short"),
      encoder.encode("{sha1}" + "x".repeat(20)),
      new Uint8Array(32),
      new Uint8Array(0),
    ]
  ) {
    const [server, client] = channelPair();
    const delivering = deliverChallenge(server, key);
    await client.recvBytes(256);
    await client.sendBytes(answer);
    await assert.rejects(delivering, AuthenticationError);
    assert.equal(decoder.decode(await client.recvBytes(256)), "#FAILURE#");
  }
  // A challenge that is not one is not answered.
  const [server, client] = channelPair();
  const answering = answerChallenge(client, key);
  await server.sendBytes(encoder.encode("hello"));
  await assert.rejects(answering, AuthenticationError);
  assert.equal(server.sent.length, 1);
});

Deno.test("handshake: on a Unix socket, the framing leaves what follows unread", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/s.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  try {
    const key = newAuthkey();
    const accepted = (async () => {
      const conn = await listener.accept();
      await serverHandshake(connChannel(conn), key);
      const rest = new Uint8Array(5);
      let n = 0;
      while (n < 5) n += (await conn.read(rest.subarray(n)))!;
      conn.close();
      return decoder.decode(rest);
    })();
    const conn = await Deno.connect({ transport: "unix", path });
    await clientHandshake(connChannel(conn), key);
    await conn.write(encoder.encode("after"));
    assert.equal(await accepted, "after");
    conn.close();
    // A peer that closes mid-handshake is an error, not a hang.
    const early = (async () => {
      const c = await listener.accept();
      try {
        await serverHandshake(connChannel(c), key);
      } finally {
        c.close();
      }
    })();
    (await Deno.connect({ transport: "unix", path })).close();
    await assert.rejects(early);
  } finally {
    listener.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("handshake: the Blob form runs the same code", async () => {
  const kit = (0, eval)(HANDSHAKE_SOURCE) as HandshakeKit;
  const key = newAuthkey();
  const [server, client] = channelPair();
  await Promise.all([
    serverHandshake(server, key),
    kit.clientHandshake(client, key),
  ]);
});

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["--version"] }).outputSync()
      .success;
  } catch {
    return false;
  }
}

// Python's Listener and Client, told the key in hex; each says "ok" (and a
// message it received or sends) once its handshake passed.
const PYTHON = `
import sys
from multiprocessing.connection import Listener, Client
role, path, key = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
if role == "listener":
    with Listener(path, family="AF_UNIX", authkey=key) as listener:
        print("listening", flush=True)
        try:
            with listener.accept() as conn:
                conn.send_bytes(b"hello from python")
                print("ok", conn.recv_bytes().decode(), flush=True)
        except Exception as error:
            print("refused", type(error).__name__, flush=True)
else:
    try:
        with Client(path, family="AF_UNIX", authkey=key) as conn:
            print("ok", conn.recv_bytes().decode(), flush=True)
    except Exception as error:
        print("refused", type(error).__name__, flush=True)
`;

/** The lines of `stream`, one at a time. */
function linesOf(stream: ReadableStream<Uint8Array>) {
  const chunks = stream.pipeThrough(new TextDecoderStream()).values();
  let buffer = "";
  return {
    async next(): Promise<string> {
      while (!buffer.includes("\n")) {
        const { value, done } = await chunks.next();
        if (done) return buffer;
        buffer += value;
      }
      const end = buffer.indexOf("\n");
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      return line;
    },
    async rest(): Promise<void> {
      while (!(await chunks.next()).done) { /* drain */ }
    },
  };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name:
    "handshake: a Python Listener and Client accept this end, and refuse a wrong key",
  ignore: !hasPython(),
  async fn() {
    const dir = Deno.makeTempDirSync();
    try {
      const key = newAuthkey();
      // Deno connects to Python's Listener.
      for (
        const [clientKey, outcome] of [[key, "ok"], [
          newAuthkey(),
          "refused",
        ]] as const
      ) {
        const path = `${dir}/py-${outcome}.sock`;
        const python = new Deno.Command("python3", {
          args: ["-c", PYTHON, "listener", path, hex(key)],
          stdout: "piped",
        }).spawn();
        const lines = linesOf(python.stdout);
        assert.equal(await lines.next(), "listening");
        const conn = await Deno.connect({ transport: "unix", path });
        const channel = connChannel(conn);
        if (outcome === "ok") {
          await clientHandshake(channel, clientKey);
          assert.equal(
            decoder.decode(await channel.recvBytes(100)),
            "hello from python",
          );
          await channel.sendBytes(encoder.encode("hello from deno"));
          assert.match(await lines.next(), /^ok hello from deno/);
        } else {
          await assert.rejects(
            clientHandshake(channel, clientKey),
            AuthenticationError,
          );
          assert.match(await lines.next(), /^refused/);
        }
        conn.close();
        await lines.rest();
        await python.status;
      }
      // Python's Client connects to Deno.
      const path = `${dir}/deno.sock`;
      const listener = Deno.listen({ transport: "unix", path });
      try {
        for (
          const [clientKey, outcome] of [[key, "ok"], [
            newAuthkey(),
            "refused",
          ]] as const
        ) {
          const python = new Deno.Command("python3", {
            args: ["-c", PYTHON, "client", path, hex(clientKey)],
            stdout: "piped",
          }).spawn();
          const conn = await listener.accept();
          const channel = connChannel(conn);
          if (outcome === "ok") {
            await serverHandshake(channel, key);
            await channel.sendBytes(encoder.encode("hello from deno"));
          } else {
            await assert.rejects(
              serverHandshake(channel, key),
              AuthenticationError,
            );
          }
          const out = decoder.decode((await python.output()).stdout);
          assert.match(
            out,
            outcome === "ok"
              ? /^ok hello from deno/
              : /^refused AuthenticationError/,
          );
          conn.close();
        }
      } finally {
        listener.close();
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
