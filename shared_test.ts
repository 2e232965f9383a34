// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { Array as MpArray, SharedArray, Value } from "./shared.ts";
import { Lock, RLock } from "./lock.ts";
import { BACKENDS } from "./_test_util.ts";
import { child, joinAll } from "./testdata/sync_helpers.ts";

Deno.test("Value: every type and typecode reads back what was written", () => {
  const cases: [string, number | bigint, number | bigint][] = [
    ["i8", -5, -5],
    ["b", 200, -56], // wraps as C does
    ["u8", 255, 255],
    ["B", 256, 0],
    ["i16", -30000, -30000],
    ["h", 40000, -25536],
    ["u16", 65535, 65535],
    ["H", 7, 7],
    ["i32", -2_000_000_000, -2_000_000_000],
    ["i", 5.9, 5], // truncates as a typed array does
    ["l", -1, -1],
    ["u32", 4_000_000_000, 4_000_000_000],
    ["I", -1, 4294967295],
    ["L", 3, 3],
    ["f32", 0.1, Math.fround(0.1)],
    ["f", 1.5, 1.5],
    ["f64", 0.1, 0.1],
    ["d", -2.25, -2.25],
    ["i64", -(2n ** 62n), -(2n ** 62n)],
    ["q", 5n, 5n],
    ["u64", 2n ** 64n - 1n, 2n ** 64n - 1n],
    ["Q", 1n, 1n],
  ];
  for (const [type, written, read] of cases) {
    const v = new Value(type as "i32", written as number);
    assert.equal(v.value, read, `${type}`);
    v.value = written as number;
    assert.equal(v.value, read, `${type} after a write`);
  }
  assert.equal(new Value("d").value, 0);
  assert.equal(new Value("q").value, 0n);
  assert.equal(new Value("i").type, "i32");
  assert.equal(new Value("Q").type, "u64");
});

Deno.test('Value and Array: a char ("c") is a one-character string in a byte', () => {
  const v = new Value("c", "x");
  assert.equal(v.type, "char");
  assert.equal(v.value, "x");
  v.value = "\u00ff";
  assert.equal(v.value, "\u00ff");
  assert.equal(new Value("char").value, "\0");
  for (const bad of ["", "xy", "\u0100", 65]) {
    assert.throws(
      () => (v.value = bad as string),
      /A char element is one character of code 0 to 255/,
    );
  }
  assert.equal(v.value, "\u00ff", "a bad write changes nothing");
  const arr = new SharedArray("c", "hello");
  assert.equal(arr.length, 5);
  assert.ok(arr.array instanceof Uint8Array);
  arr[0] = "j";
  assert.equal(arr.toArray().join(""), "jello");
  assert.equal(new TextDecoder().decode(arr.array), "jello");
});

Deno.test("Value: locks", () => {
  const v = new Value("i", 1);
  assert.ok(v.getLock() instanceof RLock);
  assert.equal(v.getLock(), v.getLock());
  const lock = new Lock();
  assert.equal(new Value("i", 0, { lock }).getLock(), lock);
  assert.throws(() => new Value("i", 0, { lock: false }).getLock(), TypeError);
  assert.throws(
    () => new Value("i", 0, { lock: "yes" as unknown as boolean }),
    TypeError,
  );
  assert.throws(() => new Value("x" as "i"), TypeError);
});

Deno.test("Array: from a size or from values; index, get, set, iterate", () => {
  assert.equal(MpArray, SharedArray);
  const zeros = new SharedArray("f64", 4);
  assert.equal(zeros.length, 4);
  assert.deepEqual(zeros.toArray(), [0, 0, 0, 0]);
  assert.ok(zeros.array instanceof Float64Array);
  assert.ok(zeros.array.buffer instanceof SharedArrayBuffer);

  const arr = new SharedArray("i", [1, 2, 3]);
  assert.equal(arr.type, "i32");
  assert.equal(arr[0], 1);
  arr[1] = 20;
  assert.equal(arr.get(1), 20);
  arr.set(-1, 30);
  assert.equal(arr[2], 30);
  assert.equal(arr.get(-3), 1);
  arr.array[0] = 10;
  assert.deepEqual([...arr], [10, 20, 30]);
  assert.throws(() => arr[3], RangeError, "out of range, as in Python");
  assert.equal(1 in arr, true);
  assert.equal(3 in arr, false);
  assert.throws(() => arr.get(3), RangeError);
  assert.throws(() => arr.set(-4, 0), RangeError);
  assert.throws(() => new SharedArray("i", -1), RangeError);

  const big = new SharedArray("q", [1n, -2n]);
  assert.deepEqual(big.toArray(), [1n, -2n]);
  const floats = new SharedArray("f", 3);
  floats[2] = 0.5;
  assert.deepEqual(floats.toArray(), [0, 0, 0.5]);
  assert.equal(new SharedArray("B", 0).length, 0);
  assert.throws(
    () => new SharedArray("d", 2, { lock: false }).getLock(),
    TypeError,
  );
  assert.ok(new SharedArray("d", 2).getLock() instanceof RLock);
});

for (const backend of BACKENDS) {
  Deno.test(`Value: a child's writes are seen by the parent (${backend})`, async () => {
    const values = [
      new Value("i", 0),
      new Value("d", 0, { lock: false }),
      new Value("q", 0n),
      new Value("B", 0),
      new Value("c", "a"),
    ];
    const written = [-7, 2.5, 2n ** 40n, 255, "z"];
    await joinAll(
      values.map((v, i) => child(backend, "writeValue", [v, written[i]])),
    );
    assert.deepEqual(values.map((v) => v.value), written);
  });

  Deno.test(`Array: a child's writes are seen by the parent (${backend})`, async () => {
    const ints = new SharedArray("i16", 3);
    const floats = new SharedArray("f64", [1, 2], { lock: false });
    await joinAll([
      child(backend, "writeArray", [ints, [1, -2, 3]]),
      child(backend, "writeArray", [floats, [0.25, -0.5]]),
    ]);
    assert.deepEqual(ints.toArray(), [1, -2, 3]);
    assert.deepEqual([...floats], [0.25, -0.5]);
  });

  Deno.test(`Value: children counting under getLock() end exact (${backend})`, async () => {
    const counter = new Value("i", 0);
    const times = backend === "worker" ? 10_000 : 200;
    await joinAll(
      [0, 1].map(() => child(backend, "countUp", [counter, times])),
    );
    assert.equal(counter.value, 2 * times);
  });
}
