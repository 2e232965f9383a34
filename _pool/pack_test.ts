// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of chunk packing: no child process. A structured clone stands
// in for the trip to a pool worker and back.
import assert from "node:assert/strict";
import {
  fromText,
  pack,
  type Packed,
  toText,
  unpack,
  unpackInto,
  view,
} from "./pack.ts";
import { toWire } from "../_wire.ts";

/** `count` copies of what `make` returns for each index. */
function many<T>(count: number, make: (i: number) => T): T[] {
  return Array.from({ length: count }, (_, i) => make(i));
}

/** What the other side of a port unpacks. */
function acrossAPort(packed: Packed): unknown[] {
  return unpack(structuredClone(packed));
}

/** `depth` arrays, one inside the other, around a 0. */
function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

Deno.test("pack: fewer than 16 values travel as they are", () => {
  for (const values of [[], [1], many(15, (i) => i), many(15, String)]) {
    assert.equal(pack(values), values);
    assert.equal(unpack(values), values);
  }
});

Deno.test("pack: 16 or more numbers become the bytes of a Float64Array", () => {
  const values = many(16, (i) => i * 1.5 - 3);
  const packed = pack(values);
  assert.ok(!Array.isArray(packed) && "f64" in packed);
  assert.ok(packed.f64 instanceof ArrayBuffer);
  assert.equal(packed.f64.byteLength, 16 * 8);
  assert.deepEqual(acrossAPort(packed), values);
});

Deno.test("pack: numbers keep NaN, -0, infinities and extremes exactly", () => {
  const special = [
    NaN,
    -0,
    0,
    Infinity,
    -Infinity,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 31,
    -(2 ** 31) - 1,
    0.1 + 0.2,
  ];
  const values = [...special, ...many(4, (i) => i)];
  const unpacked = acrossAPort(pack(values));
  assert.equal(unpacked.length, values.length);
  values.forEach((value, i) => assert.ok(Object.is(unpacked[i], value)));
});

Deno.test("pack: plain data of every structured-clone kind packs into one ArrayBuffer", () => {
  const values: unknown[] = [
    "text",
    "",
    "ünïcödé ✓",
    true,
    false,
    null,
    undefined,
    12n ** 30n,
    { nested: { deep: [1, [2, [3]]] }, empty: {} },
    [],
    new Date(86_400_000),
    /re+gex/gi,
    new Map<unknown, unknown>([["k", { v: [1] }], [2, new Set([3])]]),
    new Set(["a", 1]),
    new Uint8Array([1, 2, 255]),
    new Float32Array([0.5, -2]),
    new ArrayBuffer(3),
  ];
  const packed = pack(values);
  assert.ok(packed instanceof ArrayBuffer);
  assert.deepEqual(acrossAPort(packed), values);
});

Deno.test("pack: an object without a prototype arrives as a port would deliver it", () => {
  const bare = Object.assign(Object.create(null), { bare: 1 });
  const values = many(16, () => bare);
  const packed = pack(values);
  assert.ok(packed instanceof ArrayBuffer);
  assert.deepEqual(acrossAPort(packed), structuredClone(values));
});

Deno.test("pack: the buffer is exactly the serialization, not a view into a larger one", () => {
  const values = many(32, (i) => `item ${i}`);
  const packed = pack(values);
  assert.ok(packed instanceof ArrayBuffer);
  // Transferring must hand over the whole value: nothing before or after it.
  const moved = structuredClone(packed, { transfer: [packed] });
  assert.equal(packed.byteLength, 0);
  assert.deepEqual(unpack(moved), values);
});

Deno.test("pack: 16 mixed numbers and strings are serialized, not Float64s", () => {
  const values = [...many(15, (i) => i), "sixteen"];
  const packed = pack(values);
  assert.ok(packed instanceof ArrayBuffer);
  assert.deepEqual(acrossAPort(packed), values);
});

Deno.test("pack: anything the serializer would not copy faithfully travels as it is", () => {
  class Point {
    constructor(readonly x: number) {}
  }
  const handle = { [toWire]: () => ({ kind: "k", module: "m", state: 0 }) };
  const unfaithful: [string, unknown][] = [
    ["a class instance", new Point(1)],
    ["a class instance inside a plain object", { p: new Point(2) }],
    ["a class instance inside a Map", new Map([[1, new Point(3)]])],
    ["a class instance as a Map key", new Map([[new Point(4), 1]])],
    ["a class instance inside a Set", new Set([new Point(5)])],
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
    ["a symbol-keyed property", handle],
    ["a SharedArrayBuffer", new SharedArrayBuffer(8)],
    ["a view of shared memory", new Int32Array(new SharedArrayBuffer(8))],
    ["an Error", new Error("e")],
  ];
  for (const [what, odd] of unfaithful) {
    const values = [...many(20, (i) => ({ i })), odd];
    assert.equal(pack(values), values, what);
    assert.equal(unpack(values), values, what);
  }
});

Deno.test("pack: values nested 17 deep are packed, 18 deep travel as they are", () => {
  const shallow = many(16, () => nested(17));
  const packed = pack(shallow);
  assert.ok(packed instanceof ArrayBuffer);
  assert.deepEqual(acrossAPort(packed), shallow);

  const deep = many(16, () => nested(18));
  assert.equal(pack(deep), deep);
});

Deno.test("pack: a cyclic value travels as it is (the depth bound ends the walk)", () => {
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  const values = [...many(16, (i) => i + 0.5), cyclic];
  const packed = pack(values);
  assert.equal(packed, values);
  const unpacked = acrossAPort(packed);
  const back = unpacked[16] as unknown[];
  assert.equal(back[0], back);
});

Deno.test("pack: a large chunk round-trips", () => {
  const numbers = many(100_000, (i) => i / 7);
  assert.deepEqual(acrossAPort(pack(numbers)), numbers);
  const records = many(10_000, (i) => ({ i, s: `#${i}`, list: [i, -i] }));
  assert.deepEqual(acrossAPort(pack(records)), records);
});

Deno.test("pack: a range of the values packs as that range alone", () => {
  const numbers = many(100, (i) => i * 1.5);
  const packed = pack(numbers, 10, 40);
  assert.ok(!Array.isArray(packed) && !(packed instanceof ArrayBuffer));
  assert.deepEqual(acrossAPort(packed), numbers.slice(10, 50));
  // A number range that ends in another value, and a short range.
  const mixed: unknown[] = [...many(30, (i) => i), "x"];
  assert.ok(pack(mixed, 5, 26) instanceof ArrayBuffer);
  assert.deepEqual(acrossAPort(pack(mixed, 5, 26)), mixed.slice(5));
  assert.deepEqual(pack(mixed, 28, 3), [28, 29, "x"]);
  assert.equal(numbers.length, 100); // the source is left as it was
});

Deno.test("pack: view reads numbers in place, unpackInto writes where they go", () => {
  const numbers = many(20, (i) => i - 0.25);
  const seen = view(structuredClone(pack(numbers)));
  assert.ok(seen instanceof Float64Array);
  assert.deepEqual(Array.from(seen), numbers);
  const records = many(20, (i) => ({ i }));
  assert.deepEqual(view(structuredClone(pack(records))), records);
  const target = new Array(45).fill(null);
  assert.equal(unpackInto(structuredClone(pack(numbers)), target, 5), 20);
  assert.equal(unpackInto(structuredClone(pack(records)), target, 25), 20);
  assert.deepEqual(target, [
    null,
    null,
    null,
    null,
    null,
    ...numbers,
    ...records,
  ]);
});

Deno.test("pack: 32-bit integers travel as the bytes of an Int32Array", () => {
  const values = many(
    16,
    (i) => i * 1000 - 2 ** 31 + (i === 15 ? 2 ** 32 - 16_000 : 0),
  );
  const packed = pack(values);
  assert.ok("i32" in packed && packed.i32.byteLength === 16 * 4);
  assert.deepEqual(acrossAPort(packed), values);
  // -0, 2 ** 31 and a fraction are not 32-bit integers: doubles keep them.
  for (const odd of [-0, 2 ** 31, 0.5]) {
    const mixed = [...many(16, (i) => i), odd];
    const back = acrossAPort(pack(mixed));
    assert.ok("f64" in pack(mixed));
    assert.ok(Object.is(back[16], odd));
  }
});

Deno.test("toText: a message of plain JSON data travels as text, unchanged", () => {
  const messages: unknown[] = [
    [{ id: 1, fn: "file:///m.ts#f", star: true, items: [[42, "x"]] }],
    { id: 7, results: [1.5, -2, 0, null, true, "é\ud800", { a: [] }], ms: 0.1 },
    Object.assign(Object.create(null), { a: 1 }),
    [],
    nested(16),
  ];
  for (const message of messages) {
    const text = toText(message);
    assert.equal(typeof text, "string");
    assert.deepEqual(fromText(text!), structuredClone(message));
  }
});

Deno.test("toText: what JSON would change, or a long message, stays as it is", () => {
  class Point {
    x = 1;
  }
  const withProperty = Object.assign([1], { extra: 2 });
  const messages: unknown[] = [
    [undefined],
    { a: undefined },
    [NaN],
    [Infinity],
    [-0],
    [1n],
    // deno-lint-ignore no-sparse-arrays
    [1, , 3],
    withProperty,
    [new Date(0)],
    [new Map()],
    [new Uint8Array(1)],
    [new Point()],
    [() => 1],
    nested(70),
    ["x".repeat(16 * 1024)],
    many(5000, (i) => i),
  ];
  for (const message of messages) {
    assert.equal(toText(message), undefined, Deno.inspect(message));
  }
});
