// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The one test of whether JSON carries a value exactly.
import assert from "node:assert/strict";
import { jsonExact } from "./_json.ts";

Deno.test("jsonExact: what JSON carries exactly", () => {
  const safe: unknown[] = [
    "",
    "text ✓",
    0,
    -1.5,
    Number.MAX_VALUE,
    true,
    false,
    null,
    [],
    {},
    [1, ["nested", [null]]],
    { a: { b: { c: [true] } } },
    Object.assign(Object.create(null), { bare: 1 }),
  ];
  for (const value of safe) {
    assert.equal(jsonExact(value), true, `${Deno.inspect(value)} is exact`);
  }
});

Deno.test("jsonExact: what JSON would change or drop", () => {
  const sparse = [1, , 3];
  const withUndefined = { a: undefined };
  const unsafe: unknown[] = [
    undefined,
    NaN,
    Infinity,
    -Infinity,
    -0,
    10n,
    Symbol("s"),
    () => 1,
    sparse,
    withUndefined,
    [undefined],
    [1, [2, [NaN]]],
    { deep: { deeper: -0 } },
    new Date(0),
    new Map(),
    new Set(),
    new Uint8Array(1),
    new ArrayBuffer(1),
    /x/,
    new Error("e"),
    new (class Point {})(),
    { [Symbol.for("handle")]: () => 1 },
    Object.assign([1, 2], { tag: "named" }),
    new (class List extends Array {})(),
    // JSON.parse would give this key back as the object's prototype.
    Object.defineProperty(Object.create(null), "__proto__", {
      value: 1,
      enumerable: true,
    }),
  ];
  for (const value of unsafe) {
    assert.equal(jsonExact(value), false, `${Deno.inspect(value)} is not`);
  }
});

Deno.test("jsonExact: nesting is bounded, so a cycle is not exact", () => {
  const nested = (depth: number) => {
    let value: unknown = 0;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };
  assert.equal(jsonExact(nested(65)), true);
  assert.equal(jsonExact(nested(66)), false);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(jsonExact(cyclic), false);
});

Deno.test("jsonExact: an object met twice is the structured clone's, shared or not", () => {
  const shared = { n: 1 };
  assert.equal(jsonExact([shared, shared]), false);
  assert.equal(jsonExact([{ n: 1 }, { n: 1 }]), true);
  // A value that doubles at each level: 2^40 paths, 41 objects.
  let doubling: unknown = 0;
  for (let i = 0; i < 40; i++) doubling = [doubling, doubling];
  assert.equal(jsonExact(doubling), false);
  // Each walk starts afresh.
  assert.equal(jsonExact(shared), true);
  assert.equal(jsonExact(shared), true);
});

Deno.test("jsonExact: gives up past the characters it may count", () => {
  const value = { list: Array.from({ length: 100 }, (_, i) => i) };
  assert.ok(JSON.stringify(value).length < 2000);
  assert.equal(jsonExact(value, 2000), true);
  assert.equal(jsonExact(value, 100), false);
  assert.equal(jsonExact("x".repeat(50), 10), false);
});
