// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Large messages (issue 13): buffers and typed arrays of any size arrive
// whole and as their class, `transfer` moves buffers, and a message over a
// pipe's or a queue's maximum is a RangeError at the sender that leaves the
// pipe or queue usable.
import assert from "node:assert/strict";
import { BACKENDS, startChild } from "./_test_util.ts";
import { Pipe } from "./pipe.ts";
import { JoinableQueue, Queue, SimpleQueue } from "./queue.ts";
import { EOFError } from "./errors.ts";
import {
  encodeBytes,
  PREPARE_FROM,
  prepareBuffer,
  SharedRing,
} from "./_shm/ring.ts";
import { adviseHugePages, allocate, usesSegments } from "./_shm/memory.ts";

const TARGETS = new URL("./testdata/pipe_targets.ts", import.meta.url);
const MiB = 1024 * 1024;

/** Bytes that differ from one offset to the next, so a shift shows. */
function pattern(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}

/** Large values of every kind: top level, inside objects, sharing a buffer. */
function largeValues(): unknown[] {
  const bytes = pattern(3 * MiB);
  const shared = pattern(MiB).buffer;
  return [
    bytes,
    bytes.subarray(5, 2 * MiB + 5),
    new Float64Array(bytes.buffer.slice(0, 2 * MiB)),
    bytes.buffer.slice(0, MiB),
    new DataView(bytes.buffer.slice(0, MiB)),
    { samples: new Int16Array(bytes.buffer.slice(0, MiB)), name: "nested" },
    [new Uint8Array(shared, 0, 16), new Uint32Array(shared, 16, 4)],
  ];
}

Deno.test("large buffers and typed arrays arrive whole and as their class", async () => {
  const [a, b] = Pipe();
  const values = largeValues();
  for (const value of values) a.send(value);
  for (const value of values) assert.deepEqual(await b.recv(), value);
  for (const value of values) a.send(value);
  for (const value of values) assert.deepEqual(b.recvSync(), value);
  // Two views of one buffer still share it on arrival.
  const [first, second] = values.at(-1) as [Uint8Array, Uint32Array];
  a.send([first, second]);
  const [x, y] = await b.recv() as [Uint8Array, Uint32Array];
  assert.equal(x.buffer, y.buffer);
  a.sendBytes(values[0] as Uint8Array, 3, 2 * MiB);
  assert.deepEqual(
    await b.recvBytes(),
    (values[0] as Uint8Array).slice(3, 3 + 2 * MiB),
  );
  a.close();
  b.close();
});

/**
 * The `VmFlags` of the mapping of this process that holds `address`, from
 * /proc/self/smaps (Linux), else `undefined`.
 */
function vmFlagsAt(address: bigint): string[] | undefined {
  let smaps: string;
  try {
    smaps = Deno.readTextFileSync("/proc/self/smaps");
  } catch {
    return undefined;
  }
  for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const [start, end] = block.slice(0, block.indexOf(" ")).split("-")
      .map((hex) => BigInt(`0x${hex}`));
    if (start <= address && address < end) {
      return block.match(/^VmFlags:(.*)$/m)?.[1].trim().split(/\s+/);
    }
  }
  return undefined;
}

/** Whether this system has transparent huge pages at all (Linux). */
function hasHugePages(): boolean {
  try {
    return !Deno.readTextFileSync(
      "/sys/kernel/mm/transparent_hugepage/enabled",
    ).includes("[never]");
  } catch {
    return false;
  }
}

Deno.test("a large received buffer, and a ring grown for it, is advised into huge pages, its bytes untouched", async () => {
  const bytes = pattern(5 * MiB);
  const copy = bytes.slice();
  adviseHugePages(bytes);
  adviseHugePages(bytes.subarray(3, 4 * MiB + 3)); // unaligned: whole pages only
  adviseHugePages(bytes.subarray(0, 100)); // too small: nothing to advise
  assert.deepEqual(bytes, copy);
  const [a, b] = Pipe();
  a.sendBytes(bytes);
  const received = await b.recvBytes();
  assert.deepEqual(received, copy);
  a.close();
  b.close();
  const ready = await prepareBuffer(PREPARE_FROM + 3);
  assert.equal(ready.length, PREPARE_FROM + 3);
  assert.ok(ready.every((byte) => byte === 0));
  // A ring grown for a large message.
  const ring = new SharedRing();
  assert.ok(ring.tryPut(encodeBytes(bytes), 0, false));
  const ringBytes = new Uint8Array(ring.state.data);
  assert.deepEqual(ring.tryGet()?.value, copy);
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  if (ffi && hasHugePages() && Deno.build.os === "linux") {
    for (const buffer of [received, ready, ringBytes]) {
      const base = BigInt(
        Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)),
      );
      // The first whole huge page inside the buffer.
      const inside = (base + 2n * BigInt(MiB) - 1n) / 2n / BigInt(MiB) * 2n *
        BigInt(MiB);
      assert.ok(vmFlagsAt(inside)?.includes("hg"), "advised: VmFlags has hg");
    }
  }
  if (usesSegments()) {
    // Shared memory, which the advice does not reach: left alone.
    const shared = new Uint8Array(allocate(5 * MiB));
    adviseHugePages(shared);
    assert.ok(shared.every((byte) => byte === 0));
  }
});

Deno.test("messages of every length and alignment come whole as the ring wraps around", async () => {
  const [a, b] = Pipe();
  const q = new Queue();
  const lengths = [300, 1, 257, 4099, 5, 70001, 256, 1023, 9, 65536, 2];
  const message = (i: number) => {
    const length = lengths[i % lengths.length];
    return pattern(length + 8).subarray(i % 8, i % 8 + length);
  };
  // Three in flight: each record starts where the last one ended.
  for (let i = 0; i < 3; i++) {
    a.sendBytes(message(i));
    a.send(message(i).slice());
    await q.put(message(i).slice().buffer);
  }
  for (let i = 3; i < 300; i++) {
    a.sendBytes(message(i));
    a.send(message(i).slice());
    await q.put(message(i).slice().buffer);
    const expected = message(i - 3);
    assert.deepEqual(await b.recvBytes(), expected);
    assert.deepEqual(await b.recv(), expected);
    assert.deepEqual(new Uint8Array(await q.get() as ArrayBuffer), expected);
  }
  a.close();
  b.close();
  q.close();
});

Deno.test("a large message taken by another receive while recv() readies its memory: recv() gets the next", async () => {
  const [a, b] = Pipe();
  const big = pattern(PREPARE_FROM);
  a.sendBytes(big);
  a.send("small");
  a.send(big.buffer);
  const pending = b.recv(); // finds the large message, readies memory for it
  assert.deepEqual(b.recvSync(), big);
  assert.equal(await pending, "small");
  // The next large message, of the same size, comes whole and as its class,
  // in memory of its own: the one after it does not overwrite it.
  const first = await b.recv();
  assert.deepEqual(first, big.buffer);
  a.sendBytes(new Uint8Array(PREPARE_FROM).fill(7));
  assert.deepEqual(await b.recvBytes(), new Uint8Array(PREPARE_FROM).fill(7));
  assert.deepEqual(first, big.buffer);
  a.sendBytes(big.subarray(1));
  assert.deepEqual(await b.recvBytes(), big.subarray(1));
  a.close();
  b.close();
});

Deno.test("a large item taken by another get while get() readies its memory: get() gets the next", async () => {
  const q = new Queue();
  const big = pattern(PREPARE_FROM);
  await q.put(big);
  await q.put("small");
  await q.put(big.buffer);
  const pending = q.get(); // finds the large item, readies memory for it
  assert.deepEqual(q.getSync(), big);
  assert.equal(await pending, "small");
  assert.deepEqual(await q.get(), big.buffer);
  // A get that waits for a large item readies its memory, then takes it.
  const waiting = q.get({ timeout: 60_000 });
  await q.put(new Float64Array(big.buffer));
  assert.deepEqual(await waiting, new Float64Array(big.buffer));
  q.close();
});

Deno.test("send() with transfer moves the buffers and detaches them here", async () => {
  const [a, b] = Pipe();
  const samples = new Float64Array(pattern(2 * MiB).buffer);
  const expected = samples.slice();
  a.send({ samples }, { transfer: [samples.buffer] });
  assert.equal(samples.buffer.detached, true);
  assert.deepEqual(await b.recv(), { samples: expected });
  const bytes = pattern(1000);
  a.send(bytes, { transfer: [bytes.buffer] });
  assert.equal(bytes.length, 0);
  assert.deepEqual(b.recvSync(), pattern(1000));
  // A bad transfer list is a TypeError, and nothing is sent.
  const kept = pattern(10);
  assert.throws(
    () => a.send(kept, { transfer: [kept] as unknown as ArrayBuffer[] }),
    /transfer takes ArrayBuffers/,
  );
  assert.throws(
    () => a.send(kept, { transfer: [samples.buffer] }),
    /detached/,
  );
  assert.equal(await b.poll(), false);
  a.send("after");
  assert.equal(await b.recv(), "after");
  a.close();
  b.close();
});

Deno.test("a message over maxMessageBytes is a RangeError at the sender; the pipe goes on", async () => {
  const [a, b] = Pipe({ maxMessageBytes: MiB });
  const big = new Uint8Array(MiB + 1);
  assert.throws(() => a.sendBytes(big), RangeError);
  assert.throws(() => a.send(big), /maxMessageBytes/);
  assert.throws(() => a.send({ inside: [big] }), RangeError);
  assert.throws(() => a.send(big, { transfer: [big.buffer] }), RangeError);
  assert.equal(big.length, MiB + 1, "a refused transfer detaches nothing");
  assert.equal(await b.poll(), false);
  a.sendBytes(big, 1);
  assert.equal((await b.recvBytes()).length, MiB);
  a.send(big.subarray(1));
  assert.equal((await b.recv() as Uint8Array).length, MiB);
  assert.throws(() => Pipe({ maxMessageBytes: -1 }), RangeError);
  assert.throws(() => Pipe({ maxMessageBytes: 2 ** 31 }), RangeError);
  a.close();
  b.close();
});

Deno.test("Queue.put() with transfer detaches the buffers; typed arrays come back as their class", async () => {
  const q = new Queue();
  const values = largeValues();
  for (const value of values) await q.put(value);
  for (const value of values) assert.deepEqual(await q.get(), value);
  const bytes = pattern(MiB);
  await q.put(bytes, { transfer: [bytes.buffer] });
  assert.equal(bytes.buffer.detached, true);
  assert.deepEqual(await q.get(), pattern(MiB));
  const more = pattern(10);
  q.putSync({ more }, { transfer: [more.buffer] });
  assert.equal(more.length, 0);
  assert.deepEqual(q.getSync(), { more: pattern(10) });
  await assert.rejects(
    q.put(1, { transfer: [1] as unknown as ArrayBuffer[] }),
    TypeError,
  );
  assert.equal(q.empty(), true);
  q.close();
});

for (const backend of BACKENDS) {
  Deno.test(`${backend}: large messages round-trip through a child`, async () => {
    const [a, b] = Pipe();
    const p = startChild(TARGETS, backend, "echo", [b]);
    try {
      const values = largeValues();
      for (const value of values) {
        a.send(value);
        assert.deepEqual(await a.recv(), value);
      }
      const moved = pattern(4 * MiB);
      a.send(moved, { transfer: [moved.buffer] });
      assert.equal(moved.length, 0);
      assert.deepEqual(await a.recv(), pattern(4 * MiB));
      // Large enough that each receive readies its memory first.
      a.sendBytes(pattern(PREPARE_FROM));
      assert.deepEqual(await a.recv(), pattern(PREPARE_FROM));
    } finally {
      a.close();
      assert.equal(await p.join(), 0, p.error?.message);
    }
  });
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: large messages a child receives with recvSync come whole`, async () => {
    const [a, b] = Pipe();
    const p = startChild(TARGETS, backend, "echoSync", [b]);
    try {
      for (const value of [...largeValues(), "small between", 7]) {
        a.send(value);
        assert.deepEqual(await a.recv(), value);
      }
      a.sendBytes(pattern(2 * MiB + 3));
      assert.deepEqual(await a.recv(), pattern(2 * MiB + 3));
    } finally {
      a.close();
      assert.equal(await p.join(), 0, p.error?.message);
    }
  });
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a child's message over maxMessageBytes is a RangeError in the child; the pipe goes on`, async () => {
    const [a, b] = Pipe({ maxMessageBytes: MiB });
    const p = startChild(TARGETS, backend, "sendOverMaximum", [b, MiB]);
    try {
      assert.deepEqual(await a.recvBytes(), new Uint8Array(MiB).fill(1));
      const errors = await a.recv() as string[];
      assert.equal(errors.length, 3);
      for (const error of errors) {
        assert.match(error, /^RangeError: .*maxMessageBytes/);
      }
      await assert.rejects(a.recv(), EOFError);
    } finally {
      a.close();
      assert.equal(await p.join(), 0, p.error?.message);
    }
  });
}

Deno.test("a queue item larger than the queue holds is a RangeError at put(); the queue goes on", async () => {
  const q = new Queue();
  // Untouched memory: refused before it is copied, so this costs nothing.
  const huge = new ArrayBuffer(2 ** 30);
  await assert.rejects(q.put(huge), RangeError);
  assert.throws(() => q.putNowait(new Uint8Array(huge)), RangeError);
  assert.equal(q.empty(), true);
  await q.put("after");
  assert.equal(await q.get(), "after");
  q.close();
});

Deno.test("a queue item over maxMessageBytes is a RangeError at the put; the queue goes on", async () => {
  const q = new Queue<unknown>(0, { maxMessageBytes: MiB });
  const big = new Uint8Array(MiB + 1);
  await assert.rejects(q.put(big), /maxMessageBytes/);
  assert.throws(() => q.putNowait(big), RangeError);
  assert.throws(() => q.putSync(big.buffer), RangeError);
  await assert.rejects(q.put({ inside: [big] }), RangeError);
  await assert.rejects(q.put("x".repeat(MiB + 1)), RangeError);
  await assert.rejects(q.put(big, { transfer: [big.buffer] }), RangeError);
  assert.equal(big.length, MiB + 1, "a refused transfer detaches nothing");
  assert.equal(q.empty(), true);
  await q.put(big.subarray(1));
  assert.equal((await q.get() as Uint8Array).length, MiB);
  q.close();
  const joinable = new JoinableQueue(0, { maxMessageBytes: 4 });
  assert.throws(() => joinable.putNowait(new Uint8Array(5)), RangeError);
  await joinable.join(); // nothing was counted
  const simple = new SimpleQueue({ maxMessageBytes: 4 });
  assert.throws(() => simple.put(new Uint8Array(5)), RangeError);
  simple.put(new Uint8Array(4));
  assert.deepEqual(await simple.get(), new Uint8Array(4));
  simple.close();
  for (const maxMessageBytes of [-1, 0.5, 2 ** 31, NaN]) {
    assert.throws(() => new Queue(0, { maxMessageBytes }), RangeError);
  }
});

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a child's queue item over maxMessageBytes is a RangeError in the child; the queue goes on`, async () => {
    const q = new Queue(0, { maxMessageBytes: MiB });
    const p = startChild(TARGETS, backend, "putOverMaxMessageBytes", [q, MiB]);
    try {
      assert.deepEqual(await q.get(), new Uint8Array(MiB).fill(1));
      const errors = await q.get() as string[];
      assert.equal(errors.length, 4);
      for (const error of errors) {
        assert.match(error, /^RangeError: .*maxMessageBytes/);
      }
      assert.equal(q.empty(), true);
    } finally {
      assert.equal(await p.join(), 0, p.error?.message);
      q.close();
    }
  });
}

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a child's queue item over the maximum is a RangeError in the child; the queue goes on`, async () => {
    const q = new Queue();
    const p = startChild(TARGETS, backend, "putOverMaximum", [q]);
    try {
      assert.match(await q.get() as string, /^RangeError: .*at most/);
      assert.equal(q.empty(), true);
    } finally {
      assert.equal(await p.join(), 0, p.error?.message);
      q.close();
    }
  });
}
