// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of the proxy shape: what a subprocess child learns of a
// primitive's members. No child process.
import assert from "node:assert/strict";
import { PROXY_KIND, PROXY_MODULE } from "./protocol.ts";
import { shapeOf, SYMBOLS } from "./shape.ts";

class Base {
  #secret = 1;
  field = 5;
  unset = undefined;
  method(): number {
    return this.#secret;
  }
  async asyncMethod(): Promise<number> {
    return await Promise.resolve(2);
  }
  overridden(): string | Promise<string> {
    return "base";
  }
  get readOnly(): number {
    return 3;
  }
  get readWrite(): number {
    return this.field;
  }
  set readWrite(value: number) {
    this.field = value;
  }
  set writeOnly(_value: number) {}
  static create(): Base {
    return new Base();
  }
}

class Derived extends Base {
  override async overridden(): Promise<string> {
    return await Promise.resolve("derived");
  }
  derivedOnly(): void {}
  *[Symbol.iterator](): Iterator<number> {
    yield 1;
  }
  async *[Symbol.asyncIterator](): AsyncIterator<number> {
    yield 1;
  }
  [Symbol.dispose](): void {}
  async [Symbol.asyncDispose](): Promise<void> {}
  [Symbol.for("private.marker")](): void {}
  [Symbol.toStringTag] = "Derived";
}

Deno.test("shapeOf: methods, async methods, getters and setters by kind", () => {
  const shape = shapeOf(new Base());
  assert.deepEqual(shape, {
    name: "Base",
    members: {
      field: "g",
      method: "m",
      asyncMethod: "a",
      overridden: "m",
      readOnly: "g",
      readWrite: "s",
      writeOnly: "s",
    },
    indexed: false,
  });
});

Deno.test("shapeOf: the nearest definition up the prototype chain wins", () => {
  const { name, members } = shapeOf(new Derived());
  assert.equal(name, "Derived");
  assert.equal(members.overridden, "a");
  assert.equal(members.derivedOnly, "m");
  assert.equal(members.method, "m");
  assert.equal(members.readWrite, "s");
});

Deno.test("shapeOf: well-known symbols by their @@ names, other symbols left out", () => {
  const { members } = shapeOf(new Derived());
  assert.equal(members["@@iterator"], "m");
  // An async generator is not an async function: its result is an iterator.
  assert.equal(members["@@asyncIterator"], "m");
  assert.equal(members["@@dispose"], "m");
  assert.equal(members["@@asyncDispose"], "a");
  const names = Object.keys(members);
  assert.ok(names.every((name) => !name.includes("private.marker")));
  assert.ok(!names.includes("@@toStringTag"));
  assert.deepEqual(Object.keys(SYMBOLS).sort(), [
    "@@asyncDispose",
    "@@asyncIterator",
    "@@dispose",
    "@@iterator",
  ]);
  assert.equal(SYMBOLS["@@iterator"], Symbol.iterator);
  assert.equal(SYMBOLS["@@asyncIterator"], Symbol.asyncIterator);
});

Deno.test("shapeOf: private fields, statics, the constructor and Object.prototype stay out", () => {
  const { members } = shapeOf(new Base());
  for (const hidden of ["#secret", "secret", "create", "constructor"]) {
    assert.ok(!Object.hasOwn(members, hidden), hidden);
  }
  for (const inherited of ["toString", "hasOwnProperty", "valueOf"]) {
    assert.ok(!Object.hasOwn(members, inherited), inherited);
  }
});

Deno.test("shapeOf: an own property that is undefined is not a member", () => {
  const { members } = shapeOf(new Base());
  assert.ok(!Object.hasOwn(members, "unset"));
  const bare = shapeOf({ a: undefined, b: null, c: 0 });
  assert.deepEqual(bare.members, { b: "g", c: "g" });
});

Deno.test("shapeOf: a plain object and one without a prototype", () => {
  const plain = shapeOf({ run() {}, async later() {}, value: "x" });
  assert.deepEqual(plain, {
    name: "Object",
    members: { run: "m", later: "a", value: "g" },
    indexed: false,
  });
  const bare = Object.create(null) as Record<string, unknown>;
  bare.go = () => {};
  assert.deepEqual(shapeOf(bare), {
    name: "Object",
    members: { go: "m" },
    indexed: false,
  });
  assert.deepEqual(shapeOf({}), {
    name: "Object",
    members: {},
    indexed: false,
  });
});

Deno.test("shapeOf: arrays and array-likes are indexed, their elements not listed", () => {
  for (const array of [[1, 2, 3], [], new Int32Array(4)]) {
    const shape = shapeOf(array);
    assert.equal(shape.indexed, true, shape.name);
    assert.ok(!Object.hasOwn(shape.members, "0"), shape.name);
    assert.equal(shape.members.length, "g", shape.name);
    assert.equal(shape.members["@@iterator"], "m", shape.name);
  }
  assert.equal(shapeOf([1]).name, "Array");
  assert.equal(shapeOf(new Int32Array(1)).name, "Int32Array");
  assert.equal(shapeOf([]).members.push, "m");
});

Deno.test("shapeOf: numeric keys make an object indexed; a length alone does not", () => {
  assert.equal(shapeOf({ 0: "a", name: "n" }).indexed, true);
  assert.deepEqual(shapeOf({ 0: "a", name: "n" }).members, { name: "g" });
  assert.equal(shapeOf({ length: 3 }).indexed, false);
  assert.equal(shapeOf({ "1x": 1 }).indexed, false);
  assert.equal(shapeOf({ "1x": 1 }).members["1x"], "g");
});

Deno.test("shapeOf: the shape is plain data that crosses a process boundary", () => {
  const shape = shapeOf(new Derived());
  assert.deepEqual(JSON.parse(JSON.stringify(shape)), shape);
  assert.deepEqual(structuredClone(shape), shape);
});

Deno.test("PROXY_KIND and PROXY_MODULE name the client module that revives proxies", () => {
  assert.equal(typeof PROXY_KIND, "string");
  assert.ok(PROXY_KIND.length > 0);
  assert.equal(PROXY_MODULE, new URL("./client.ts", import.meta.url).href);
});
