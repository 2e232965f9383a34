// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import v8 from "node:v8";
import { BACKENDS, startChild } from "./_test_util.ts";
import { BufferTooShort, EOFError, ProcessError } from "./errors.ts";
import { type Connection, Pipe } from "./pipe.ts";
import { Queue } from "./queue.ts";
import { decodeSync, encode, ownerEnded, wireContext } from "./_wire.ts";

const TARGETS = new URL("./testdata/pipe_targets.ts", import.meta.url);

/** Receives until EOF; fails if the connection ends any other way. */
async function drain<T>(conn: Connection<T>): Promise<T[]> {
  const got: T[] = [];
  for await (const message of conn) got.push(message);
  return got;
}

Deno.test("an end passed to several children stays held for one still in transit when the others end, in any order", async () => {
  const [reader, writer] = Pipe<number>({ duplex: false });
  /** Passes `writer` as a child's start would, to the child `pid`. */
  const pass = (pid: number) => {
    const ctx = wireContext();
    ctx.receiver = pid;
    return encode(writer, ctx);
  };
  // Children 1 and 2 take the end and close it; child 3 has not taken it.
  const [first, second] = [pass(1), pass(2)].map((form) =>
    decodeSync(form) as Connection<number>
  );
  pass(3);
  first.close();
  second.close();
  writer.close();
  // They end, the later-passed first: child 3 still holds its slot.
  writer[ownerEnded]!(2);
  writer[ownerEnded]!(1);
  assert.equal(
    await reader.poll(0),
    false,
    "no EOF while child 3 may still write",
  );
  // Child 3 ends without having taken it: now the end is closed.
  writer[ownerEnded]!(3);
  await assert.rejects(reader.recv(), EOFError);
  reader.close();
});

Deno.test("Pipe() is duplex; Pipe(false) and Pipe({ duplex: false }) give [reader, writer]", async () => {
  const [a, b] = Pipe();
  assert.deepEqual([a.readable, a.writable, b.readable, b.writable], [
    true,
    true,
    true,
    true,
  ]);
  a.send("to b");
  b.send("to a");
  assert.equal(await b.recv(), "to b");
  assert.equal(await a.recv(), "to a");
  a.close();
  b.close();
  for (const [reader, writer] of [Pipe(false), Pipe({ duplex: false })]) {
    assert.deepEqual([reader.readable, reader.writable], [true, false]);
    assert.deepEqual([writer.readable, writer.writable], [false, true]);
    assert.throws(() => reader.send(1), ProcessError);
    assert.throws(() => reader.sendBytes(new Uint8Array(1)), /read-only/);
    await assert.rejects(writer.recv(), /write-only/);
    assert.throws(() => writer.recvSync(), ProcessError);
    await assert.rejects(writer.poll(), ProcessError);
    reader.close();
    writer.close();
  }
});

Deno.test("messages keep their order and their structure", async () => {
  const [a, b] = Pipe();
  const values = [
    0,
    "text",
    null,
    undefined,
    true,
    10n,
    [1, [2, 3]],
    { nested: { map: new Map([[1, "one"]]), set: new Set([2]) } },
    new Date(5),
    new Uint8Array([1, 2, 3]),
    // Plain data goes as text through the ring, the rest on the port:
    // interleaved, they keep their order.
    { id: 1, args: [1, "x"] },
    new Map([["k", { id: 2 }]]),
    { id: 3, nested: { deep: [true, null] } },
    Object.assign([4], { tag: "kept" }),
    { id: 5 },
  ];
  for (const value of values) a.send(value);
  for (const value of values) assert.deepEqual(await b.recv(), value);
  a.close();
  b.close();
});

Deno.test("EOF comes after every message the closed peer sent", async () => {
  const [a, b] = Pipe<number>();
  for (let i = 0; i < 100; i++) a.send(i);
  a.close();
  assert.equal(await b.poll(), true);
  assert.deepEqual(await drain(b), Array.from({ length: 100 }, (_, i) => i));
  await assert.rejects(b.recv(), EOFError);
  assert.throws(() => b.recvSync(), EOFError);
  assert.equal(await b.poll(), true, "poll() is true at EOF, as in Python");
  assert.throws(() => b.send(1), /other end of the pipe is closed/);
  b.close();
});

Deno.test("using a closed connection throws; closing twice does not", async () => {
  const [a, b] = Pipe();
  a.close();
  a.close();
  assert.equal(a.closed, true);
  assert.equal(b.closed, false);
  assert.throws(() => a.send(1), /closed/);
  assert.throws(() => a.sendBytes(new Uint8Array(1)), ProcessError);
  await assert.rejects(a.recv(), /closed/);
  assert.throws(() => a.recvSync(), ProcessError);
  await assert.rejects(a.poll(), ProcessError);
  await assert.rejects(a.recvBytes(), ProcessError);
  b.close();
});

Deno.test("closing this end wakes its own pending recv() with an error", async () => {
  const [a, b] = Pipe();
  const pending = a.recv();
  a.close();
  await assert.rejects(pending, /closed/);
  b.close();
});

Deno.test("poll() waits up to its timeout; bad timeouts are RangeErrors", async () => {
  const [a, b] = Pipe();
  assert.equal(await b.poll(), false);
  assert.equal(await b.poll(20), false);
  const later = b.poll(undefined);
  a.send("x");
  assert.equal(await later, true);
  assert.equal(await b.recv(), "x");
  await assert.rejects(b.poll(-1), RangeError);
  await assert.rejects(b.poll(NaN), RangeError);
  a.close();
  b.close();
});

Deno.test("a value the structured clone cannot copy is a TypeError; the pipe still works", async () => {
  const [a, b] = Pipe();
  // The clone's own message is quoted whole, with what to do after it.
  assert.throws(() => a.send({ fn: () => 1 }), {
    name: "TypeError",
    message: /could not be cloned; send data the structured clone copies/,
  });
  assert.throws(() => a.send(Symbol("s") as unknown), TypeError);
  a.send("still fine");
  assert.equal(await b.recv(), "still fine");
  assert.equal(await b.poll(), false, "nothing half-sent");
  a.close();
  b.close();
});

Deno.test("sendBytes()/recvBytes() with offset, size and maxLength", async () => {
  const [a, b] = Pipe();
  const bytes = new Uint8Array([0, 1, 2, 3, 4, 5]);
  a.sendBytes(bytes);
  a.sendBytes(bytes, 2);
  a.sendBytes(bytes.buffer, 1, 2);
  a.sendBytes(new Uint16Array([0x0201]));
  assert.deepEqual(await b.recvBytes(), bytes);
  assert.deepEqual(await b.recvBytes(), new Uint8Array([2, 3, 4, 5]));
  assert.deepEqual(await b.recvBytes(10), new Uint8Array([1, 2]));
  assert.deepEqual((await b.recvBytes()).length, 2);
  assert.throws(() => a.sendBytes(bytes, 7), RangeError);
  assert.throws(() => a.sendBytes(bytes, 2, 5), RangeError);
  assert.throws(() => a.sendBytes(bytes, -1), RangeError);
  a.sendBytes(bytes);
  await assert.rejects(b.recvBytes(3), RangeError);
  await assert.rejects(b.recvBytes(-1), RangeError);
  a.close();
  b.close();
});

Deno.test("recvBytesInto() writes each message into the caller's memory at an offset: any buffer or view, the same buffer for message after message", async () => {
  const [a, b] = Pipe();
  const message = (length: number, first: number) =>
    Uint8Array.from({ length }, (_, i) => (first + i) & 0xff);
  // Typed array of 8-byte elements, at an offset that splits an element.
  const floats = new Float64Array(4);
  const floatBytes = new Uint8Array(floats.buffer);
  for (let round = 0; round < 3; round++) {
    a.sendBytes(message(20, round));
    assert.equal(await b.recvBytesInto(floats, 5), 20);
    assert.deepEqual(floatBytes.subarray(5, 25), message(20, round));
  }
  assert.deepEqual(floatBytes.subarray(0, 5), new Uint8Array(5), "before");
  assert.deepEqual(floatBytes.subarray(25), new Uint8Array(7), "after");
  // A DataView over part of a buffer writes only there.
  const under = new Uint8Array(16);
  a.sendBytes(message(4, 100));
  assert.equal(await b.recvBytesInto(new DataView(under.buffer, 8, 6), 2), 4);
  assert.deepEqual(under.subarray(10, 14), message(4, 100));
  assert.equal(under.filter((byte) => byte !== 0).length, 4);
  // ArrayBuffer, SharedArrayBuffer, an exact fit, the end as offset.
  for (const memory of [new ArrayBuffer(64), new SharedArrayBuffer(64)]) {
    a.sendBytes(message(64, 7));
    assert.equal(await b.recvBytesInto(memory), 64);
    assert.deepEqual(new Uint8Array(memory), message(64, 7));
    a.sendBytes(new Uint8Array(0));
    assert.equal(await b.recvBytesInto(memory, 64), 0);
  }
  // Large: straight into the buffer, however large.
  const large = new Uint8Array(24 * 1024 * 1024 + 3);
  const sent = new Uint8Array(24 * 1024 * 1024);
  for (let i = 0; i < sent.length; i += 4093) sent[i] = i % 251;
  a.sendBytes(sent);
  assert.equal(await b.recvBytesInto(large, 3), sent.length);
  assert.equal(Buffer.compare(large.subarray(3), sent), 0);
  a.close();
  b.close();
});

Deno.test("recvBytesInto(): a message that does not fit is on the BufferTooShort, whole, and the next message follows; bad arguments take no message", async () => {
  const [a, b] = Pipe();
  const room = new Uint8Array(8);
  const tooShort = async (offset: number, length: number) => {
    const error = await b.recvBytesInto(room, offset).then(
      () => assert.fail("it fit"),
      (error) => error,
    );
    assert.ok(error instanceof BufferTooShort);
    assert.ok(error instanceof ProcessError);
    assert.equal(error.bytes.length, length);
    assert.match(error.message, new RegExp(`${length} bytes .* ${8 - offset}`));
    return error.bytes;
  };
  a.sendBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
  a.sendBytes(new Uint8Array([10, 11, 12]));
  assert.deepEqual(
    await tooShort(0, 9),
    new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]),
  );
  assert.deepEqual(room, new Uint8Array(8), "nothing written");
  assert.equal(await b.recvBytesInto(room), 3, "the next message");
  // Large enough to be made ready in steps (see PREPARE_FROM).
  const large = new Uint8Array(5 * 1024 * 1024).fill(0xab);
  a.sendBytes(large);
  a.sendBytes(new Uint8Array([1]));
  assert.deepEqual(await tooShort(6, large.length), large);
  assert.equal(await b.recvBytesInto(room, 7), 1);
  // Bad arguments: an error before any message is taken.
  a.sendBytes(new Uint8Array([42]));
  for (const offset of [-1, 9, 1.5, NaN, "1" as unknown as number]) {
    await assert.rejects(b.recvBytesInto(room, offset), RangeError);
  }
  for (const buffer of [undefined, [1, 2], "text", 7, {}]) {
    await assert.rejects(b.recvBytesInto(buffer as never), TypeError);
  }
  const detached = new ArrayBuffer(8);
  detached.transfer();
  await assert.rejects(b.recvBytesInto(detached), TypeError);
  assert.deepEqual(await b.recvBytes(), new Uint8Array([42]), "not lost");
  a.close();
  await assert.rejects(b.recvBytesInto(room), EOFError);
  b.close();
  await assert.rejects(b.recvBytesInto(room), /closed/);
  const [reader, writer] = Pipe({ duplex: false });
  await assert.rejects(writer.recvBytesInto(room), /write-only/);
  reader.close();
  writer.close();
});

Deno.test("recvBytesInto() of a message sent with send() gives what recvBytes() gives; waiting receives of one end each get their own message", async () => {
  const [a, b] = Pipe();
  const room = new Uint8Array(1 << 20);
  const values = [7, "text", { n: [1, 2] }, new Float64Array([0.5]), 10n];
  for (const value of values) {
    a.send(value);
    const size = await b.recvBytesInto(room);
    assert.deepEqual(
      room.subarray(0, size),
      new Uint8Array(v8.serialize(value)),
    );
  }
  // A posted message (a Map goes on the port) too.
  a.send(new Map([[1, 2]]));
  const size = await b.recvBytesInto(room, 10);
  assert.deepEqual(
    v8.deserialize(room.subarray(10, 10 + size)),
    new Map([[1, 2]]),
  );
  // Receives waiting at once: each its own message, in its own memory.
  const first = new Uint8Array(4);
  const second = new Uint8Array(4);
  const waits = [
    b.recvBytesInto(first),
    b.recvBytes(),
    b.recvBytesInto(second),
  ];
  for (const byte of [1, 2, 3]) a.sendBytes(new Uint8Array([byte]));
  const [one, two, three] = await Promise.all(waits);
  assert.deepEqual([one, two, three], [1, new Uint8Array([2]), 1]);
  assert.deepEqual([first[0], second[0]], [1, 3]);
  a.close();
  b.close();
});

Deno.test("send() and sendBytes() are one stream: recvBytes() of a message gives its serialization, recv() of that the message", async () => {
  const [a, b] = Pipe();
  const big = "x".repeat(100_000);
  const values = [7, "text", big, null, [1, 2.25, null], new Uint8Array([9])];
  for (const value of values) a.send(value);
  const serialized = [];
  for (const value of values) {
    const bytes = await b.recvBytes();
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual(v8.deserialize(bytes), value);
    serialized.push(bytes);
  }
  // Forwarded as bytes, each arrives as the message it was.
  for (const bytes of serialized) b.sendBytes(bytes);
  for (const value of values) assert.deepEqual(await a.recv(), value);
  // Bytes that are no serialization arrive as bytes, small or large.
  const large = new Uint8Array(100_000).fill(0xff);
  for (const bytes of [new Uint8Array([0xff, 1, 2]), large]) {
    a.sendBytes(bytes);
    assert.deepEqual(await b.recv(), bytes);
    a.sendBytes(bytes);
    assert.deepEqual(b.recvSync(), bytes);
  }
  // A message holding a primitive of this library has no bytes.
  const [c, d] = Pipe();
  a.send({ end: c });
  await assert.rejects(b.recvBytes(), /primitive of this library/);
  a.send("still works");
  assert.equal(await b.recv(), "still works");
  for (const conn of [a, b, d]) conn.close();
});

Deno.test("a connection inside a message arrives as a working handle; the sent one still works", async () => {
  const [a, b] = Pipe<{ conn: Connection<string> }>();
  const [x, y] = Pipe<string>();
  x.send("queued before the move");
  a.send({ conn: y });
  assert.equal(y.closed, false, "both handles hold the end now");
  const { conn } = await b.recv();
  assert.equal(await conn.recv(), "queued before the move");
  conn.send("back");
  assert.equal(await x.recv(), "back");
  y.send("from the first handle");
  assert.equal(await x.recv(), "from the first handle");
  x.send("one");
  assert.equal(await y.recv(), "one");
  x.send("two");
  assert.equal(conn.recvSync(), "two");
  // A primitive cannot go to an end that several processes held.
  const [p, q] = Pipe();
  assert.throws(() => x.send(q as never), /several processes hold/);
  assert.equal(q.closed, false);
  // EOF once every handle of the end is closed.
  y.close();
  assert.equal(await x.poll(), false);
  conn.close();
  await assert.rejects(x.recv(), EOFError);
  for (const c of [a, b, x, p, q]) c.close();
});

for (const backend of BACKENDS) {
  const start = (name: string, args: unknown[]) =>
    startChild(TARGETS, backend, name, args);

  Deno.test(`${backend}: a child's messages arrive in order, then EOF`, async () => {
    const [a, b] = Pipe<number>();
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const p = start("sendAll", [b, values]);
    b.close(); // Python's habit; harmless: the end now lives in the child
    assert.deepEqual(await drain(a), values);
    await assert.rejects(a.recv(), EOFError);
    assert.equal(await p.join(), 0, p.error?.message);
    a.close();
  });

  Deno.test(`${backend}: EOF when the child's process ends without closing`, async () => {
    const [a, b] = Pipe<number>();
    const p = start("sendCountNoClose", [b, 50]);
    assert.equal((await drain(a)).length, 50);
    assert.equal(await p.join(), 0, p.error?.message);
    a.close();
  });

  // On the subprocess backend a child's end is operated by this process for
  // the child, which a parent blocked in recvSync() cannot do.
  Deno.test({
    name:
      `${backend}: recvSync() in a blocked parent sees the child's end as EOF`,
    ignore: backend !== "worker",
  }, async () => {
    const [a, b] = Pipe<number>();
    const p = start("sendCountNoClose", [b, 5]);
    const got: number[] = [];
    assert.throws(() => {
      for (;;) got.push(a.recvSync());
    }, EOFError);
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
    assert.equal(await p.join(), 0, p.error?.message);
    a.close();
  });

  Deno.test(`${backend}: EOF after a child is terminated`, async () => {
    const [a, b] = Pipe<string>();
    const p = start("sendThenIdle", [b, ["one", "two"]]);
    assert.equal(await a.recv(), "one");
    assert.equal(await a.recv(), "two");
    assert.equal(await a.poll(), false);
    p.terminate();
    assert.equal(await p.join(), -15);
    await assert.rejects(a.recv(), EOFError);
    a.close();
  });

  Deno.test(`${backend}: duplex round trips with a child`, async () => {
    const [a, b] = Pipe<unknown>();
    const p = start("echo", [b]);
    for (const value of [1, "two", { three: [3] }]) {
      a.send(value);
      assert.deepEqual(await a.recv(), value);
    }
    a.close();
    assert.equal(await p.join(), 0, p.error?.message);
  });

  Deno.test(`${backend}: a child blocks in recvSync() until EOF`, async () => {
    const [a, b] = Pipe<number | number[]>();
    const p = start("sumSync", [b, 101]);
    for (let i = 1; i <= 100; i++) a.send(i);
    a.send(1000);
    assert.deepEqual(await a.recv(), [6050, 101]);
    a.close();
    assert.equal(await p.join(), 0, p.error?.message);
  });

  Deno.test(`${backend}: a connection passed to a grandchild`, async () => {
    const [a, b] = Pipe<string>();
    const p = start("viaGrandchild", [
      { deep: [b] }.deep[0],
      "from grandchild",
    ]);
    assert.equal(await a.recv(), "from grandchild");
    await assert.rejects(a.recv(), EOFError);
    assert.equal(await p.join(), 0, p.error?.message);
    a.close();
  });

  Deno.test(`${backend}: a connection sent to a child over another pipe`, async () => {
    const [control, controlChild] = Pipe<{ conn: Connection<string> }>();
    const [a, b] = Pipe<string>();
    const p = start("useReceivedConnection", [controlChild, "over the wire"]);
    control.send({ conn: b });
    assert.equal(await a.recv(), "over the wire");
    await assert.rejects(a.recv(), EOFError);
    assert.equal(await p.join(), 0, p.error?.message);
    control.close();
    a.close();
  });

  Deno.test(`${backend}: recvBytesInto() in a child and in the parent, one buffer each`, async () => {
    const [a, b] = Pipe();
    const room = 1024 * 1024;
    const p = start("echoInto", [b, room]);
    try {
      assert.equal(await a.recv(), "TypeError");
      assert.equal(await a.recv(), "RangeError");
      const buffer = new BigUint64Array(room / 8);
      const bytes = new Uint8Array(buffer.buffer);
      for (const length of [0, 3, 65_536, room, 1000]) {
        const sent = Uint8Array.from(
          { length },
          (_, i) => (i * 7 + length) & 0xff,
        );
        a.sendBytes(sent);
        assert.equal(await a.recvBytesInto(buffer), length);
        assert.deepEqual(bytes.subarray(0, length), sent);
      }
      a.sendBytes(new Uint8Array(room + 1));
      assert.deepEqual(await a.recv(), ["tooShort", room + 1]);
      // Its bytes in the child, its value once back here.
      a.send({ sent: ["with", "send()"] });
      assert.deepEqual(await a.recv(), { sent: ["with", "send()"] });
      a.sendBytes(new Uint8Array([5, 6]));
      const view = new DataView(new ArrayBuffer(4));
      assert.equal(await a.recvBytesInto(view, 2), 2);
      assert.equal(view.getUint16(2), 0x0506);
    } finally {
      a.close();
      assert.equal(await p.join(), 0, p.error?.message);
    }
  });

  // A large answer crosses to a subprocess child apart from the small ones
  // (which come through shared memory): each still settles in its turn.
  Deno.test(`${backend}: recv() calls pending at once in a child settle in order, large messages among small`, async () => {
    const [a, b] = Pipe();
    const large = 1024 * 1024;
    const sent = [new Uint8Array(large), 1, new Uint8Array(large), 2, 3];
    for (const message of sent) a.send(message);
    const p = start("recvAtOnce", [b, sent.length]);
    try {
      assert.deepEqual(await a.recv(), [
        [0, large],
        [1, 1],
        [2, large],
        [3, 2],
        [4, 3],
      ]);
    } finally {
      a.close();
      assert.equal(await p.join(), 0, p.error?.message);
    }
  });

  Deno.test(`${backend}: bytes from a child`, async () => {
    const [a, b] = Pipe();
    const p = start("sendBytesSlice", [b, "abcdefg"]);
    assert.equal(new TextDecoder().decode(await a.recvBytes()), "cde");
    assert.equal(await p.join(), 0, p.error?.message);
    a.close();
  });
}

for (const backend of BACKENDS) {
  const start = (name: string, args: unknown[]) =>
    startChild(TARGETS, backend, name, args);

  Deno.test(`${backend}: four writer children into one end: every message whole, once, in each writer's order`, async () => {
    const [reader, writer] = Pipe<[number, number] | Uint8Array>({
      duplex: false,
    });
    const writers = [0, 1, 2, 3].map((id) =>
      start("sendNumbered", [writer, id, 300])
    );
    try {
      writer.close(); // this process's handle only: the children hold it
      const next = [0, 0, 0, 0];
      let large = 0;
      for await (const message of reader) {
        if (message instanceof Uint8Array) {
          // Whole: the bytes of one writer, all of them.
          assert.equal(message.length, 50_000);
          assert.ok(message.every((byte) => byte === message[0]));
          large++;
          continue;
        }
        const [id, n] = message;
        assert.equal(n, next[id], `writer ${id} out of order`);
        next[id]++;
      }
      assert.deepEqual(next, [300, 300, 300, 300]);
      assert.equal(large, 4 * 30);
    } finally {
      for (const p of writers) {
        assert.equal(await p.join(), 0, p.error?.message);
      }
      reader.close();
    }
  });

  Deno.test(`${backend}: two reader children on one end: each message read by exactly one`, async () => {
    const [reader, writer] = Pipe<{ n: number } | number | null>({
      duplex: false,
    });
    const results = new Queue<[number, number]>();
    const readers = [0, 1].map(() => start("sumUntilNull", [reader, results]));
    try {
      const count = 2000;
      for (let n = 1; n <= count; n++) writer.send(n % 2 ? n : { n });
      writer.send(null);
      writer.send(null);
      const [a, b] = [await results.get(), await results.get()];
      assert.equal(a[0] + b[0], count, "every message read once");
      assert.equal(a[1] + b[1], count * (count + 1) / 2);
    } finally {
      for (const p of readers) {
        assert.equal(await p.join(), 0, p.error?.message);
      }
      writer.close();
      reader.close();
      results.close();
    }
  });
}
