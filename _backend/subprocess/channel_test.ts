// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of the framed channel: no child process, no socket. The
// connection is an in-memory stream that can cut writes and reads short,
// as a socket may.
import assert from "node:assert/strict";
import {
  decodeFrame,
  encodeFrame,
  encodeFrameParts,
  forEachFrame,
  type Frame,
  FrameWriter,
  HEADER,
  loadV8,
  readFrames,
  SPLIT_BYTES,
  writeAll,
} from "./channel.ts";

interface MemoryConnOptions {
  /** The most bytes one write takes (a socket may take fewer than given). */
  maxWrite?: number;
  /** The most bytes one read returns. */
  maxRead?: number;
  /** Makes the write with this index (from 0) fail. */
  failWrite?: number;
}

/**
 * Both ends of an in-memory connection: what is written to `conn` is read
 * from `conn`, in order, through a TransformStream.
 */
function memoryConn(options: MemoryConnOptions = {}) {
  const { maxWrite = Infinity, maxRead = Infinity } = options;
  // Unbounded queues on both sides: a write completes without a reader, as
  // one that fits in a socket's buffer does.
  const unbounded = new CountQueuingStrategy({ highWaterMark: Infinity });
  const stream = new TransformStream<Uint8Array, Uint8Array>(
    {},
    unbounded,
    unbounded,
  );
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let pending: Uint8Array = new Uint8Array(0);
  let writes = 0;
  const conn = {
    written: 0,
    async write(bytes: Uint8Array): Promise<number> {
      if (writes++ === options.failWrite) {
        throw new Deno.errors.BrokenPipe("Broken pipe (test)");
      }
      const n = Math.min(bytes.length, maxWrite);
      // A copy: the caller may reuse its buffer once the write returned.
      await writer.write(bytes.slice(0, n));
      conn.written += n;
      return n;
    },
    async read(into: Uint8Array): Promise<number | null> {
      while (pending.length === 0) {
        const { done, value } = await reader.read();
        if (done) return null;
        pending = value;
      }
      const n = Math.min(into.length, pending.length, maxRead);
      into.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    },
    /** Ends the stream: the reader sees the end once it read everything. */
    close(): Promise<void> {
      return writer.close();
    },
  };
  return conn;
}

type MemoryConn = ReturnType<typeof memoryConn>;

function asConn(conn: MemoryConn | object): Deno.Conn {
  return conn as unknown as Deno.Conn;
}

async function readAll(conn: MemoryConn): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of readFrames(asConn(conn))) frames.push(frame);
  return frames;
}

/** A frame's header fields. */
function header(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return {
    length: view.getUint32(0),
    format: bytes[4],
    tag: view.getUint32(5),
  };
}

// Runs first: nothing has loaded node:v8 in this module's process yet.
Deno.test("encodeFrame: a value JSON cannot carry needs node:v8 loaded first", () => {
  assert.throws(
    () => encodeFrame(new Map([[1, 2]])),
    (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /loadV8/);
      return true;
    },
  );
  // JSON-safe values need no node:v8.
  assert.deepEqual(decodeFrame(encodeFrame({ ok: [1, "two"] })), {
    ok: [1, "two"],
  });
});

Deno.test("encodeFrame: a 9-byte header (big-endian length, format, tag) then the payload", () => {
  const bytes = encodeFrame({ a: 1 }, 0x01020304);
  assert.equal(HEADER, 9);
  const payload = new TextEncoder().encode('{"a":1}');
  assert.deepEqual(header(bytes), {
    length: payload.length,
    format: 0,
    tag: 0x01020304,
  });
  assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 0, payload.length]);
  assert.deepEqual([...bytes.subarray(5, 9)], [1, 2, 3, 4]);
  assert.deepEqual(bytes.subarray(HEADER), payload);
  assert.equal(bytes.length, HEADER + payload.length);
});

Deno.test("encodeFrame: the tag defaults to 0 and spans the whole u32", () => {
  assert.equal(header(encodeFrame("x")).tag, 0);
  assert.equal(header(encodeFrame("x", 0xffffffff)).tag, 0xffffffff);
});

Deno.test("encodeFrame: JSON-safe values round-trip as JSON, of any size", () => {
  const values: unknown[] = [
    "",
    null,
    0,
    [],
    {},
    "ünïcödé ✓ 🦕",
    { list: [1, 2, { deep: [true, false, null] }] },
    "x".repeat(200_000),
  ];
  for (const value of values) {
    const bytes = encodeFrame(value);
    assert.equal(header(bytes).format, 0);
    assert.equal(header(bytes).length, bytes.length - HEADER);
    assert.deepEqual(decodeFrame(bytes), value);
  }
});

Deno.test("loadV8: loads once, then frames carry what JSON cannot", async () => {
  const v8 = await loadV8();
  assert.equal(await loadV8(), v8);
  const values: unknown[] = [
    undefined,
    NaN,
    -0,
    Infinity,
    12n ** 20n,
    new Date(1234),
    new Map<unknown, unknown>([["k", new Set([1])], [2, { v: undefined }]]),
    new Uint8Array([0, 1, 255]),
    [1, , 3],
    { nested: { at: { depth: [new Date(5)] } } },
  ];
  for (const value of values) {
    const bytes = encodeFrame(value, 7);
    assert.deepEqual(header(bytes), {
      length: bytes.length - HEADER,
      format: 1,
      tag: 7,
    });
    const back = decodeFrame(bytes);
    if (typeof value === "number") assert.ok(Object.is(back, value));
    else assert.deepEqual(back, value);
  }
});

Deno.test("encodeFrame: what node:v8 cannot serialize throws", async () => {
  await loadV8();
  assert.throws(() => encodeFrame({ f: () => 1 }));
  assert.throws(() => encodeFrame(Symbol("s")));
});

Deno.test("writeAll: keeps writing until a short-writing connection took everything", async () => {
  const conn = memoryConn({ maxWrite: 3 });
  const bytes = new Uint8Array(1000).map((_, i) => i % 251);
  await writeAll(asConn(conn), bytes);
  assert.equal(conn.written, 1000);
  await conn.close();
  const got = new Uint8Array(1000);
  let at = 0;
  for (let n; (n = await conn.read(got.subarray(at))) !== null;) at += n;
  assert.equal(at, 1000);
  assert.deepEqual(got, bytes);
});

Deno.test("FrameWriter/readFrames: frames arrive whole and in order through short writes and reads", async () => {
  await loadV8();
  const conn = memoryConn({ maxWrite: 5, maxRead: 3 });
  const writer = new FrameWriter(asConn(conn));
  const sent: Frame[] = [
    { tag: 1, value: { call: "put", args: [1, "two"] } },
    { tag: 2, value: new Map([[1, new Date(2)]]) },
    { tag: 0, value: "" },
    { tag: 0xffffffff, value: null },
    { tag: 3, value: [undefined, NaN] },
  ];
  // Sent without waiting: the writer queues them.
  const writes = sent.map(({ value, tag }) => writer.send(value, tag));
  await Promise.all(writes);
  await conn.close();
  assert.deepEqual(await readAll(conn), sent);
});

Deno.test("FrameWriter: concurrent sends never interleave their bytes", async () => {
  const conn = memoryConn({ maxWrite: 7 });
  const writer = new FrameWriter(asConn(conn));
  const sends: Promise<void>[] = [];
  for (let i = 0; i < 200; i++) {
    sends.push(writer.send({ i, pad: "p".repeat(i % 50) }, i));
  }
  await Promise.all(sends);
  await conn.close();
  const frames = await readAll(conn);
  assert.equal(frames.length, 200);
  frames.forEach((frame, i) => {
    assert.deepEqual(frame, { tag: i, value: { i, pad: "p".repeat(i % 50) } });
  });
});

Deno.test("FrameWriter.sendBytes: sends a frame encoded beforehand", async () => {
  const conn = memoryConn();
  const writer = new FrameWriter(asConn(conn));
  await writer.sendBytes(encodeFrame(["pre", "encoded"], 42));
  await writer.send("after", 43);
  await conn.close();
  assert.deepEqual(await readAll(conn), [
    { tag: 42, value: ["pre", "encoded"] },
    { tag: 43, value: "after" },
  ]);
});

Deno.test("FrameWriter: a failed write rejects its send, and later sends still go out", async () => {
  const conn = memoryConn({ failWrite: 0 });
  const writer = new FrameWriter(asConn(conn));
  const failed = writer.send("lost", 1);
  const next = writer.send("kept", 2);
  await assert.rejects(() => failed, Deno.errors.BrokenPipe);
  await next;
  await conn.close();
  assert.deepEqual(await readAll(conn), [{ tag: 2, value: "kept" }]);
});

Deno.test("FrameWriter: a value that cannot be encoded throws before anything is written", async () => {
  await loadV8();
  const conn = memoryConn();
  const writer = new FrameWriter(asConn(conn));
  assert.throws(() => writer.send(() => 1));
  await writer.send("fine");
  await conn.close();
  assert.deepEqual(await readAll(conn), [{ tag: 0, value: "fine" }]);
});

Deno.test("readFrames: frames larger than the read buffer (64 KiB), one byte at a time too", async () => {
  await loadV8();
  const big = "b".repeat(300 * 1024);
  const bytes = new Uint8Array(150 * 1024).map((_, i) => i & 0xff);
  for (const maxRead of [Infinity, 4096, 1]) {
    const size = maxRead === 1 ? 70 * 1024 : big.length;
    const conn = memoryConn({ maxRead });
    const writer = new FrameWriter(asConn(conn));
    const sent: Frame[] = [
      { tag: 1, value: "small before" },
      { tag: 2, value: big.slice(0, size) },
      { tag: 3, value: bytes.subarray(0, size / 2) },
      { tag: 4, value: "small after" },
    ];
    await Promise.all(sent.map(({ value, tag }) => writer.send(value, tag)));
    await conn.close();
    assert.deepEqual(await readAll(conn), sent, `reads of ${maxRead} bytes`);
  }
});

Deno.test("readFrames/decodeFrame: a typed array read keeps its bytes when more frames follow", async () => {
  await loadV8();
  const frame = encodeFrame(new Uint8Array(64).fill(1));
  const decoded = decodeFrame(frame) as Uint8Array;
  frame.fill(0);
  assert.deepEqual(decoded, new Uint8Array(64).fill(1));

  const conn = memoryConn();
  const writer = new FrameWriter(asConn(conn));
  for (let i = 1; i <= 40; i++) {
    await writer.send(new Uint8Array(4096).fill(i), i);
  }
  await conn.close();
  // Every frame is kept while the reader goes on reusing its buffer.
  const frames = await readAll(conn);
  assert.equal(frames.length, 40);
  frames.forEach(({ tag, value }) => {
    assert.deepEqual(value, new Uint8Array(4096).fill(tag));
  });
});

Deno.test("encodeFrameParts: large buffers travel after the value, read into buffers of their own", async () => {
  await loadV8();
  const large = new Uint8Array(3 * SPLIT_BYTES + 5).map((_, i) => i * 7);
  const other = new Float64Array(SPLIT_BYTES / 4).map((_, i) => i / 2);
  const small = new Uint8Array(100).fill(9);
  // Small buffers stay inside: one part, the frame encodeFrame makes.
  const alone = encodeFrameParts({ small }, 5, [small.buffer]);
  assert.equal(alone.length, 1);
  assert.deepEqual(alone[0], encodeFrame({ small }, 5));
  for (const maxRead of [Infinity, 4096, 1]) {
    const conn = memoryConn({ maxRead, maxWrite: 1000 });
    const writer = new FrameWriter(asConn(conn));
    const value = {
      large: large.buffer,
      again: large.buffer,
      other: other.buffer,
      small,
    };
    const parts = encodeFrameParts(value, 7, [
      large.buffer,
      large.buffer,
      other.buffer,
    ]);
    assert.equal(parts.length, 3, "one part a buffer, however often named");
    assert.equal(parts[1].buffer, large.buffer, "sent from where it is");
    assert.equal(header(parts[0]).format, 2);
    const sends = [
      writer.send("before", 1),
      writer.sendParts(parts),
      writer.send(new Map([[1, "after"]]), 2),
    ];
    await Promise.all(sends);
    await conn.close();
    const frames = await readAll(conn);
    assert.deepEqual(frames.map(({ tag }) => tag), [1, 7, 2]);
    const got = frames[1].value as typeof value;
    assert.deepEqual(new Uint8Array(got.large), large);
    assert.equal(got.again, got.large, "one buffer named twice stays one");
    assert.deepEqual(new Float64Array(got.other), other);
    assert.deepEqual(got.small, small);
    assert.deepEqual(frames[1].buffers, [got.large, got.other]);
    assert.deepEqual(frames[2].value, new Map([[1, "after"]]));
  }
  // The sender's buffers are untouched.
  assert.equal(large[1], 7);
});

Deno.test("encodeFrameParts: a value JSON carries but for its small buffers goes as JSON, the buffers after it", async () => {
  await loadV8();
  const one = new Uint8Array([1, 2, 3]).buffer;
  const two = new Uint8Array(SPLIT_BYTES - 1).fill(7).buffer;
  const value = { a: [one, { b: one }], c: "x", n: 1.5, two, empty: {} };
  const parts = encodeFrameParts(value, 9, [one, one, two]);
  assert.equal(parts.length, 1);
  assert.equal(header(parts[0]).format, 3);
  // Data that looks like a buffer's stand-in goes as node:v8 writes it.
  const lookalike = { "\u0000buffer": 0, one };
  const [plain] = encodeFrameParts(lookalike, 10, [one]);
  assert.equal(header(plain).format, 1);
  // So does a value with a buffer the caller did not list.
  const [unlisted] = encodeFrameParts({ one, two }, 11, [one]);
  assert.equal(header(unlisted).format, 1);
  for (const maxRead of [Infinity, 1000, 1]) {
    const conn = memoryConn({ maxRead, maxWrite: 999 });
    const writer = new FrameWriter(asConn(conn));
    await writer.sendParts(parts);
    await writer.sendParts([plain]);
    await writer.sendParts([unlisted]);
    await conn.close();
    const frames = await readAll(conn);
    assert.deepEqual(frames.map(({ tag }) => tag), [9, 10, 11]);
    const got = frames[0].value as typeof value;
    assert.deepEqual(got, value);
    assert.equal(got.a[0], (got.a[1] as { b: ArrayBuffer }).b, "one buffer");
    assert.ok(got.two instanceof ArrayBuffer);
    assert.deepEqual(frames[1].value, lookalike);
    assert.deepEqual(frames[2].value, { one, two });
  }
  // The sender's buffers are untouched.
  assert.deepEqual(new Uint8Array(one), new Uint8Array([1, 2, 3]));
});

Deno.test("readFrames: an empty connection yields nothing", async () => {
  const conn = memoryConn();
  await conn.close();
  assert.deepEqual(await readAll(conn), []);
});

Deno.test("readFrames: a frame cut short by the end of the connection is dropped, not thrown", async () => {
  for (const keep of [1, HEADER - 1, HEADER, HEADER + 3]) {
    const conn = memoryConn();
    await writeAll(asConn(conn), encodeFrame("whole", 1));
    await writeAll(asConn(conn), encodeFrame("cut short", 2).subarray(0, keep));
    await conn.close();
    assert.deepEqual(await readAll(conn), [{ tag: 1, value: "whole" }]);
  }
});

Deno.test("readFrames: a connection whose read fails ends like one that closed", async () => {
  const first = encodeFrame({ before: "the failure" }, 9);
  let reads = 0;
  const failing = {
    read(into: Uint8Array): Promise<number | null> {
      if (reads++ > 0) {
        return Promise.reject(new Deno.errors.ConnectionReset("reset"));
      }
      into.set(first);
      return Promise.resolve(first.length);
    },
  };
  const frames: Frame[] = [];
  for await (const frame of readFrames(asConn(failing))) frames.push(frame);
  assert.deepEqual(frames, [{ tag: 9, value: { before: "the failure" } }]);
});

Deno.test("forEachFrame: calls back for each frame in order and settles at the end", async () => {
  await loadV8();
  const conn = memoryConn({ maxRead: 2 });
  const writer = new FrameWriter(asConn(conn));
  const sent: Frame[] = [];
  for (let i = 0; i < 50; i++) {
    sent.push({ tag: i, value: i % 2 ? { i } : new Set([i]) });
  }
  const done = (async () => {
    const got: Frame[] = [];
    await forEachFrame(asConn(conn), (frame) => got.push(frame));
    return got;
  })();
  for (const { value, tag } of sent) await writer.send(value, tag);
  await conn.close();
  assert.deepEqual(await done, sent);
});
