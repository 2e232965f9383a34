// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of the shared byte ring behind the queues: one thread, no
// child process. A second `SharedRing` over the same state stands in for
// another process.
import assert from "node:assert/strict";
import {
  encodeBytes,
  encodeItem,
  mark,
  MARKED,
  MAX_CAPACITY,
  messageSize,
  SharedRing,
  sizeOf,
  type Taken,
} from "./ring.ts";
import { toWire } from "../_wire.ts";

/** Puts `item` (encoded at once: an encoding is valid until the next one). */
function put(ring: SharedRing, item: unknown, maxsize = 0): boolean {
  return ring.tryPut(encodeItem(item), maxsize, false);
}

/** The value of a get that must find an item. */
function get(ring: SharedRing): unknown {
  const taken: Taken = ring.tryGet();
  assert.ok(taken, "the ring has an item");
  return taken.value;
}

/** Bytes the ring's data buffer holds. */
function capacityOf(ring: SharedRing): number {
  return ring.state.data.byteLength;
}

Deno.test("encodeItem: small values are a tag and their bytes, no serializer", () => {
  const sizes: [unknown, number][] = [
    [undefined, 1],
    [null, 1],
    [true, 1],
    [false, 1],
    [0, 5],
    [-1, 5],
    [2 ** 31 - 1, 5],
    [-(2 ** 31), 5],
    [2 ** 31, 9],
    [-0, 9],
    [0.5, 9],
    [NaN, 9],
    ["", 5],
    ["abc", 8],
    ["é", 7], // two UTF-8 bytes
    ["🦕", 9], // four UTF-8 bytes
  ];
  for (const [item, size] of sizes) {
    assert.equal(sizeOf(encodeItem(item)), size, Deno.inspect(item));
  }
  // Objects are serialized: more than a tag, and a length.
  assert.ok(sizeOf(encodeItem({ a: 1 })) > 5);
  assert.ok(sizeOf(encodeItem(1n)) > 5);
});

Deno.test("encodeItem: a small object of plain data is its JSON text; any other object is serialized", () => {
  const ring = new SharedRing();
  const plain = { id: 7, name: "task", args: [1, 2.5, "x"], done: false };
  assert.equal(sizeOf(encodeItem(plain)), 5 + JSON.stringify(plain).length);
  const large = { list: Array.from({ length: 2000 }, (_, i) => i) };
  const tagged = Object.assign([1], { tag: "kept" });
  const shared = { n: 1 };
  const items = [plain, large, tagged, [shared, shared], { m: new Map() }];
  for (const item of items) assert.ok(put(ring, item));
  for (const item of items) assert.deepEqual(get(ring), item);
  // What JSON would not carry came back as the structured clone gives it.
  put(ring, [shared, shared]);
  const [first, second] = get(ring) as object[];
  assert.equal(first, second);
});

Deno.test("encodeItem: text of every length comes back intact, counted as its UTF-8", () => {
  const ring = new SharedRing();
  const texts = [
    "",
    "short",
    "é🦕".repeat(3000), // multi-byte, under the reused memory's limit
    "x".repeat(16 * 1024 + 1), // over it: fresh memory
    "🦕".repeat(20_000),
    "after",
  ];
  for (const text of texts) {
    const encoded = encodeItem(text);
    assert.equal(messageSize(encoded), new TextEncoder().encode(text).length);
    assert.ok(ring.tryPut(encoded, 0, false));
  }
  const objects = [{ text: texts[2] }, { n: 1 }];
  for (const item of objects) assert.ok(put(ring, item));
  for (const text of texts) assert.equal(get(ring), text);
  for (const item of objects) assert.deepEqual(get(ring), item);
});

Deno.test("encodeItem: what cannot cross is a TypeError that says so", () => {
  const handle = { [toWire]: () => ({ kind: "k", module: "m", state: 0 }) };
  class Lockish {
    [toWire]() {
      return { kind: "k", module: "m", state: 0 };
    }
  }
  const cases: [unknown, RegExp][] = [
    [() => 1, /Cannot put a function on a queue/],
    [Symbol("s"), /Cannot put a symbol on a queue/],
    [handle, /Cannot put a Object on a queue/],
    [new Lockish(), /Cannot put a Lockish on a queue/],
    [{ deep: [{ deeper: new Map([[1, new Lockish()]]) }] }, /Lockish/],
    [new Set([new Lockish()]), /Lockish/],
    [new Map([[new Lockish(), 1]]), /Lockish/],
    [{ f: () => 1 }, /Cannot put this item on a queue/],
  ];
  for (const [item, message] of cases) {
    assert.throws(
      () => encodeItem(item),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
  }
});

Deno.test("SharedRing: empty, then first in first out", () => {
  const ring = new SharedRing();
  assert.equal(ring.count(), 0);
  assert.equal(ring.tryGet(), undefined);
  const items: unknown[] = [
    1,
    -0,
    2 ** 40,
    NaN,
    "",
    "text ✓",
    null,
    undefined,
    true,
    false,
    12n ** 20n,
    { nested: [1, { deep: new Map([["k", new Set([1])]]) }] },
    new Date(7),
    new Uint8Array([1, 2, 3]),
  ];
  for (const item of items) assert.equal(put(ring, item), true);
  assert.equal(ring.count(), items.length);
  for (const item of items) {
    const value = get(ring);
    if (typeof item === "number") assert.ok(Object.is(value, item));
    else assert.deepEqual(value, item);
  }
  assert.equal(ring.count(), 0);
  assert.equal(ring.tryGet(), undefined);
});

Deno.test("SharedRing: a got item is a copy, not a view of the ring", () => {
  const ring = new SharedRing(undefined, 64);
  const sent = new Uint8Array(16).fill(9);
  put(ring, sent);
  const got = get(ring) as Uint8Array;
  for (let i = 0; i < 10; i++) put(ring, "overwrite the ring");
  assert.deepEqual(got, sent);
  assert.equal(got.buffer instanceof SharedArrayBuffer, false);
});

Deno.test("SharedRing: mark() is got as MARKED", () => {
  const ring = new SharedRing();
  assert.equal(ring.tryPut(mark(), 0, false), true);
  put(ring, "after");
  assert.equal(get(ring), MARKED);
  assert.equal(get(ring), "after");
});

Deno.test("SharedRing: maxsize bounds the items, 0 does not", () => {
  const ring = new SharedRing();
  assert.equal(put(ring, 1, 2), true);
  assert.equal(put(ring, 2, 2), true);
  assert.equal(put(ring, 3, 2), false);
  assert.equal(ring.count(), 2);
  assert.equal(get(ring), 1);
  assert.equal(put(ring, 3, 2), true);
  for (let i = 0; i < 1000; i++) assert.equal(put(ring, i, 0), true);
  assert.equal(ring.count(), 1002);
  assert.deepEqual([get(ring), get(ring), get(ring)], [2, 3, 0]);
});

Deno.test("SharedRing: records wrap around the end of the ring without growing it", () => {
  // 32 bytes and at most three records of at most 9 bytes in it: every
  // record boundary, and every split of a record's header, comes round.
  const ring = new SharedRing(undefined, 32);
  const items: unknown[] = [];
  for (let i = 0; i < 500; i++) {
    items.push(i % 3 === 0 ? "abcd".slice(0, i % 5) : i % 3 === 1 ? i : 0.5);
  }
  let next = 0;
  for (const item of items) {
    assert.equal(put(ring, item), true);
    if (ring.count() === 3) assert.deepEqual(get(ring), items[next++]);
  }
  while (next < items.length) assert.deepEqual(get(ring), items[next++]);
  assert.equal(ring.tryGet(), undefined);
  assert.equal(capacityOf(ring), 32);
});

Deno.test("SharedRing: an item exactly the ring's size fits; one byte more grows it", () => {
  const ring = new SharedRing(undefined, 16);
  const exact = "x".repeat(11); // 5 bytes of tag and length + 11
  assert.equal(sizeOf(encodeItem(exact)), 16);
  assert.equal(put(ring, exact), true);
  assert.equal(capacityOf(ring), 16);
  assert.equal(put(ring, null), true);
  assert.equal(capacityOf(ring), 32);
  assert.equal(get(ring), exact);
  assert.equal(get(ring), null);
  // An item larger than the ring twice over grows it in one step.
  assert.equal(put(ring, "y".repeat(100)), true);
  assert.equal(capacityOf(ring), 128);
  assert.equal(get(ring), "y".repeat(100));
});

Deno.test("SharedRing: growing while wrapped keeps every item in order", () => {
  const ring = new SharedRing(undefined, 32);
  // Four ints of 5 bytes, three of them got: the head is at byte 15 and
  // one item is left (an empty ring starts over at 0).
  for (let i = 0; i < 4; i++) put(ring, i);
  for (let i = 0; i < 3; i++) assert.equal(get(ring), i);
  // 10 bytes to 30, then an int split across the end, then one after it.
  const items = [3, "wraps", 42, 7];
  for (const item of items.slice(1)) put(ring, item);
  assert.equal(capacityOf(ring), 32);
  assert.equal(ring.count(), 4);
  // This one does not fit: the ring grows, with its wrapped part moved.
  const big = "B".repeat(200);
  put(ring, big);
  assert.ok(capacityOf(ring) >= 256);
  for (const item of [...items, big]) assert.equal(get(ring), item);
  // And keeps working at the new size, wrapping again.
  for (let round = 0; round < 50; round++) {
    put(ring, `round ${round}`);
    put(ring, round);
    assert.equal(get(ring), `round ${round}`);
    assert.equal(get(ring), round);
  }
  assert.equal(ring.count(), 0);
});

Deno.test("SharedRing: a second handle on the same state sees the same items", () => {
  const first = new SharedRing(undefined, 16);
  const second = new SharedRing(first.state);
  put(first, "one");
  put(second, 2);
  assert.equal(first.count(), 2);
  assert.equal(second.count(), 2);
  // The second handle grows the buffer; the first sees the growth.
  put(second, "z".repeat(64));
  assert.equal(get(first), "one");
  assert.equal(get(first), 2);
  assert.equal(get(first), "z".repeat(64));
  assert.equal(second.count(), 0);
  assert.equal(first.state.data, second.state.data);
  assert.equal(first.state.header, second.state.header);
});

Deno.test("SharedRing: the state crosses a structured clone as shared memory", () => {
  const ring = new SharedRing();
  const state = structuredClone(ring.state);
  assert.ok(state.header instanceof SharedArrayBuffer);
  assert.ok(state.data instanceof SharedArrayBuffer);
  assert.equal(state.data.growable, true);
  assert.equal(state.data.maxByteLength, MAX_CAPACITY);
  const revived = new SharedRing(state);
  put(ring, "through a clone");
  assert.equal(get(revived), "through a clone");
});

Deno.test("SharedRing: counted puts are unfinished until taskDone", () => {
  const ring = new SharedRing();
  assert.equal(ring.unfinished(), 0);
  assert.equal(ring.taskDone(), false);
  ring.tryPut(encodeItem("a"), 0, true);
  ring.tryPut(encodeItem("b"), 0, true);
  put(ring, "not counted");
  assert.equal(ring.unfinished(), 2);
  get(ring);
  get(ring);
  assert.equal(ring.unfinished(), 2); // a get is not a task done
  assert.equal(ring.taskDone(), true);
  assert.equal(ring.unfinished(), 1);
  assert.equal(ring.taskDone(), true);
  assert.equal(ring.unfinished(), 0);
  assert.equal(ring.taskDone(), false);
  assert.equal(ring.unfinished(), 0);
});

Deno.test("SharedRing: a full queue refuses a put and loses nothing", () => {
  const ring = new SharedRing(undefined, 16);
  put(ring, "kept", 1);
  assert.equal(put(ring, "refused", 1), false);
  assert.equal(ring.count(), 1);
  assert.equal(get(ring), "kept");
  assert.equal(ring.tryGet(), undefined);
});

Deno.test("SharedRing: many items of mixed sizes survive repeated growth", () => {
  const ring = new SharedRing(undefined, 64);
  const items = Array.from(
    { length: 2000 },
    (_, i) =>
      i % 4 === 0 ? { i, pad: "p".repeat(i % 97) } : i % 4 === 1 ? i : `s${i}`,
  );
  for (const item of items) assert.equal(put(ring, item), true);
  assert.equal(ring.count(), items.length);
  assert.ok(capacityOf(ring) > 64);
  for (const item of items) assert.deepEqual(get(ring), item);
  assert.equal(ring.count(), 0);
});

Deno.test("SharedRing: a buffer or typed array item is its bytes; a byte message is told apart", () => {
  const ring = new SharedRing(undefined, 16);
  const f64 = new Float64Array([1.5, -2]);
  const items = [
    new Uint8Array([1, 2, 3]),
    new Uint8Array([0, 1, 2, 3, 4]).subarray(1, 3),
    f64,
    new Uint8Array(f64.buffer).buffer,
    new DataView(new Uint8Array([7, 8]).buffer),
  ];
  // Tag, length, kind and the bytes: no serializer.
  assert.equal(sizeOf(encodeItem(items[0])), 6 + 3);
  for (const item of items) assert.equal(put(ring, item), true);
  for (const item of items) assert.deepEqual(get(ring), item);
  assert.equal(ring.tryPut(encodeBytes(new Uint8Array([5])), 0, false), true);
  assert.deepEqual(ring.tryGet(), { value: new Uint8Array([5]), bytes: true });
});
