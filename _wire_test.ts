// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of the wire walk: no child process. A fake primitive stands in
// for the library's own, and a structured clone stands in for the boundary.
import assert from "node:assert/strict";
import {
  checkTransfer,
  decode,
  decodeSync,
  detachAll,
  encode,
  registerKind,
  type Shareable,
  toWire,
  type WireContext,
  wireContext,
  type WireForm,
} from "./_wire.ts";

/** A primitive for the tests: its wire form names `kind` and carries `id`. */
class Token implements Shareable {
  constructor(
    readonly id: number,
    readonly kind = "test.wire.Token",
    readonly module = import.meta.url,
  ) {}
  [toWire](_ctx: WireContext): WireForm {
    return { kind: this.kind, module: this.module, state: { id: this.id } };
  }
}

/** What a `Token` revives into on the receiving side. */
class RevivedToken {
  constructor(readonly id: number) {}
}

registerKind("test.wire.Token", (state) => {
  return new RevivedToken((state as { id: number }).id);
});

/** One encoding for a Worker child (the backend with no exporter). */
function workerContext(): WireContext {
  return wireContext("worker");
}

/** Sends `value` across a (simulated) boundary and revives it. */
function roundTrip(value: unknown, ctx = workerContext()): unknown {
  return decodeSync(structuredClone(encode(value, ctx)));
}

Deno.test("encode: values without primitives come back as the same objects", () => {
  const ctx = workerContext();
  const nested = {
    list: [1, "two", null, undefined, { deep: [[[true]]] }],
    map: new Map<unknown, unknown>([[{ k: 1 }, [2]]]),
    set: new Set([{ s: 3 }]),
    date: new Date(0),
    bytes: new Uint8Array([1, 2, 3]),
  };
  assert.equal(encode(nested, ctx), nested);
  assert.equal(encode(nested.list, ctx), nested.list);
  for (const scalar of [0, -0, NaN, "", "s", true, null, undefined, 10n]) {
    assert.ok(Object.is(encode(scalar, ctx), scalar));
  }
  assert.deepEqual(ctx.handles, []);
  assert.deepEqual(ctx.transfer, []);
});

Deno.test("encode: empty containers pass through", () => {
  const ctx = workerContext();
  for (const empty of [[], {}, new Map(), new Set(), Object.create(null)]) {
    assert.equal(encode(empty, ctx), empty);
  }
  assert.deepEqual(ctx.handles, []);
});

Deno.test("encode: a primitive at the top level becomes a plain record", () => {
  const ctx = workerContext();
  const token = new Token(1);
  const record = encode(token, ctx);
  assert.notEqual(record, token);
  assert.equal(Object.getPrototypeOf(record), Object.prototype);
  assert.deepEqual(ctx.handles, [token]);
  // The record survives a structured clone and revives into a handle.
  const revived = decodeSync(structuredClone(record));
  assert.ok(revived instanceof RevivedToken);
  assert.equal(revived.id, 1);
});

Deno.test("encode: primitives deep inside arrays, objects, Maps and Sets are replaced, the originals untouched", () => {
  const ctx = workerContext();
  const a = new Token(1);
  const b = new Token(2);
  const c = new Token(3);
  const d = new Token(4);
  const value = {
    plain: { keep: [1, 2] },
    level1: [{ level2: [{ level3: { token: a } }] }],
    map: new Map<unknown, unknown>([["value", b], [c, "key"]]),
    set: new Set<unknown>([d, "other"]),
  };
  const encoded = encode(value, ctx) as typeof value;

  // The originals still hold the primitives.
  assert.equal(value.level1[0].level2[0].level3.token, a);
  assert.equal(value.map.get("value"), b);
  assert.ok(value.set.has(d));
  // Unchanged branches are shared, changed ones copied.
  assert.notEqual(encoded, value);
  assert.equal(encoded.plain, value.plain);
  assert.notEqual(encoded.level1, value.level1);
  assert.notEqual(encoded.map, value.map);
  assert.notEqual(encoded.set, value.set);
  assert.equal(ctx.handles.length, 4);
  assert.deepEqual(new Set(ctx.handles), new Set([a, b, c, d]));

  const decoded = decodeSync(structuredClone(encoded)) as {
    plain: { keep: number[] };
    level1: { level2: { level3: { token: RevivedToken } }[] }[];
    map: Map<unknown, unknown>;
    set: Set<unknown>;
  };
  assert.deepEqual(decoded.plain, { keep: [1, 2] });
  assert.deepEqual(
    decoded.level1[0].level2[0].level3.token,
    new RevivedToken(1),
  );
  assert.deepEqual(decoded.map.get("value"), new RevivedToken(2));
  const keys = [...decoded.map.keys()];
  assert.equal(keys.length, 2);
  assert.ok(keys.some((k) => k instanceof RevivedToken && k.id === 3));
  assert.equal(
    decoded.map.get(keys.find((k) => k instanceof RevivedToken)),
    "key",
  );
  const items = [...decoded.set];
  assert.equal(items.length, 2);
  assert.ok(items.some((v) => v instanceof RevivedToken && v.id === 4));
  assert.ok(items.includes("other"));
});

Deno.test("encode: a primitive a thousand levels deep is found", () => {
  const ctx = workerContext();
  const token = new Token(1000);
  let value: unknown = token;
  for (let i = 0; i < 1000; i++) value = i % 2 ? [value] : { next: value };
  let decoded = roundTrip(value, ctx);
  for (let i = 999; i >= 0; i--) {
    decoded = i % 2
      ? (decoded as unknown[])[0]
      : (decoded as { next: unknown }).next;
  }
  assert.deepEqual(decoded, new RevivedToken(1000));
  assert.equal(ctx.handles.length, 1);
});

Deno.test("encode: one primitive sent twice is one handle on the other side", () => {
  const ctx = workerContext();
  const token = new Token(7);
  const encoded = encode([token, { again: token }], ctx) as unknown[];
  assert.deepEqual(ctx.handles, [token]);
  const [first, { again }] = decodeSync(structuredClone(encoded)) as [
    RevivedToken,
    { again: RevivedToken },
  ];
  assert.ok(first instanceof RevivedToken);
  assert.equal(first, again);
});

Deno.test("encode: a container that holds a primitive and is reached twice stays one object", () => {
  const ctx = workerContext();
  const list = [new Token(1)];
  const object = { token: new Token(2) };
  const map = new Map([[1, new Token(3)]]);
  const set = new Set([new Token(4)]);
  const value = { list, object, map, set, again: { list, object, map, set } };
  const decoded = roundTrip(value, ctx) as typeof value;
  assert.equal(decoded.again.list, decoded.list);
  assert.equal(decoded.again.object, decoded.object);
  assert.equal(decoded.again.map, decoded.map);
  assert.equal(decoded.again.set, decoded.set);
  assert.deepEqual(decoded.list, [new RevivedToken(1)]);
  assert.deepEqual(decoded.object, { token: new RevivedToken(2) });
  assert.deepEqual(decoded.map.get(1), new RevivedToken(3));
  assert.deepEqual([...decoded.set], [new RevivedToken(4)]);
  assert.equal(ctx.handles.length, 4);
});

Deno.test("encode: a Map whose only primitive is a key is copied too", () => {
  const ctx = workerContext();
  const map = new Map<unknown, unknown>([[new Token(8), "value"]]);
  const encoded = encode(map, ctx);
  assert.notEqual(encoded, map);
  const decoded = decodeSync(structuredClone(encoded)) as Map<unknown, unknown>;
  assert.deepEqual([...decoded], [[new RevivedToken(8), "value"]]);
});

Deno.test("encode: a plain cycle is walked once and kept a cycle", () => {
  const ctx = workerContext();
  const cyclic: Record<string, unknown> = { n: 1 };
  cyclic.self = cyclic;
  const list: unknown[] = [];
  list.push(list);
  assert.equal(encode(cyclic, ctx), cyclic);
  assert.equal(encode(list, ctx), list);
  const decoded = roundTrip({ cyclic, list }) as {
    cyclic: Record<string, unknown>;
    list: unknown[];
  };
  assert.equal(decoded.cyclic.self, decoded.cyclic);
  assert.equal(decoded.list[0], decoded.list);
});

Deno.test("encode: class instances other than primitives are left to the structured clone", () => {
  const ctx = workerContext();
  class Point {
    constructor(readonly x: number, readonly token: Token) {}
  }
  // Not walked: a primitive inside a class instance is not looked for.
  const point = new Point(1, new Token(1));
  assert.equal(encode(point, ctx), point);
  const date = new Date(5);
  const error = new RangeError("boom");
  assert.equal(encode(date, ctx), date);
  assert.equal(encode(error, ctx), error);
  assert.deepEqual(ctx.handles, []);
});

Deno.test("encode: objects without a prototype are walked like plain ones", () => {
  const ctx = workerContext();
  const bare = Object.create(null) as Record<string, unknown>;
  bare.token = new Token(9);
  const encoded = encode(bare, ctx) as Record<string, unknown>;
  assert.notEqual(encoded, bare);
  assert.equal(ctx.handles.length, 1);
  const decoded = decodeSync(structuredClone(encoded)) as Record<
    string,
    unknown
  >;
  assert.deepEqual(decoded.token, new RevivedToken(9));
});

Deno.test("encode: a primitive's toWire receives the encoding's context", () => {
  const ctx = workerContext();
  let seen: WireContext | undefined;
  const spy: Shareable = {
    [toWire](given) {
      seen = given;
      return { kind: "test.wire.Token", module: import.meta.url, state: {} };
    },
  };
  encode({ spy }, ctx);
  assert.equal(seen, ctx);
  assert.equal(seen?.backend, "worker");
});

Deno.test("decodeSync: a kind never registered here is a TypeError naming it and its module", () => {
  const stranger = new Token(1, "test.wire.Unregistered", "file:///nowhere.ts");
  const encoded = structuredClone(encode([stranger], workerContext()));
  assert.throws(
    () => decodeSync(encoded),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /test\.wire\.Unregistered/);
      assert.match(error.message, /file:\/\/\/nowhere\.ts/);
      return true;
    },
  );
});

Deno.test("decodeSync: plain data comes back equal, records inside a clone revive in place", () => {
  const data = { a: [1, { b: "c" }], m: new Map([[1, { x: [] }]]) };
  assert.deepEqual(decodeSync(structuredClone(data)), data);
  const clone = structuredClone(encode({ t: new Token(3) }, workerContext()));
  const decoded = decodeSync(clone) as { t: RevivedToken };
  assert.equal(decoded, clone);
  assert.deepEqual(decoded.t, new RevivedToken(3));
});

const hooks = globalThis as unknown as {
  wireTestLoaded?: string[];
  wireTestRegister?: (kind: string) => void;
};

/** A module (a data: URL) that records its loading and may register a kind. */
function moduleThat(name: string, registers?: string): string {
  const code = `globalThis.wireTestLoaded.push(${JSON.stringify(name)});` +
    (registers
      ? `globalThis.wireTestRegister(${JSON.stringify(registers)});`
      : "");
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

Deno.test("decode: imports the module of a kind not yet registered, then revives", async () => {
  hooks.wireTestLoaded = [];
  hooks.wireTestRegister = (kind) => {
    registerKind(kind, (state) => ({ lazily: state }));
  };
  try {
    const lazy = new Token(
      5,
      "test.wire.Lazy",
      moduleThat("lazy", "test.wire.Lazy"),
    );
    const known = new Token(6, "test.wire.Token", moduleThat("known"));
    const encoded = structuredClone(
      encode({ lazy, again: [lazy], known }, workerContext()),
    );
    const decoded = await decode(encoded) as Record<string, unknown>;
    assert.deepEqual(decoded.lazy, { lazily: { id: 5 } });
    assert.equal((decoded.again as unknown[])[0], decoded.lazy);
    assert.deepEqual(decoded.known, new RevivedToken(6));
    // A registered kind's module is not imported again; a module needed
    // twice is imported once.
    assert.deepEqual(hooks.wireTestLoaded, ["lazy"]);
  } finally {
    delete hooks.wireTestLoaded;
    delete hooks.wireTestRegister;
  }
});

Deno.test("decode: a module that does not register the kind is still a TypeError", async () => {
  hooks.wireTestLoaded = [];
  try {
    const token = new Token(1, "test.wire.NeverRegistered", moduleThat("idle"));
    const encoded = structuredClone(encode(token, workerContext()));
    await assert.rejects(() => decode(encoded), TypeError);
    assert.deepEqual(hooks.wireTestLoaded, ["idle"]);
  } finally {
    delete hooks.wireTestLoaded;
  }
});

Deno.test("decode: a module that cannot be loaded rejects", async () => {
  const missing = new URL("./testdata/no_such_module.ts", import.meta.url);
  const token = new Token(1, "test.wire.Missing", missing.href);
  const encoded = structuredClone(encode(token, workerContext()));
  await assert.rejects(() => decode(encoded));
});

Deno.test("decode: plain data needs no import", async () => {
  const data = [{ a: 1 }, new Set([2]), new Map([[3, [4]]])];
  assert.deepEqual(await decode(structuredClone(data)), data);
  assert.equal(await decode(42), 42);
  assert.equal(await decode(null), null);
});

Deno.test("encode with liftViews: typed arrays travel as their buffer and revive as their class", () => {
  const ctx = wireContext();
  ctx.liftViews = true;
  const buffer = new ArrayBuffer(16);
  const value = {
    bytes: new Uint8Array(buffer, 4, 8),
    words: new Uint32Array(buffer),
    view: new DataView(buffer, 2, 2),
    plain: buffer,
    shared: new Int32Array(new SharedArrayBuffer(8)),
  };
  const encoded = encode(value, ctx) as Record<string, unknown>;
  assert.equal(ctx.bytes, 8 + 16 + 2 + 16 + 8);
  assert.ok(!ArrayBuffer.isView(encoded.bytes), "lifted");
  assert.equal(encoded.shared, value.shared, "shared memory is left as is");
  const revived = decodeSync(structuredClone(encoded)) as typeof value;
  assert.deepEqual(revived, value);
  assert.equal(revived.bytes.buffer, revived.words.buffer, "one buffer still");
  assert.equal(revived.bytes.byteOffset, 4);
  // Without liftViews, nothing changes.
  assert.equal(encode(value, wireContext()), value);
});

Deno.test("checkTransfer and detachAll", () => {
  assert.deepEqual(checkTransfer(undefined), []);
  const buffer = new ArrayBuffer(4);
  assert.deepEqual(checkTransfer([buffer]), [buffer]);
  assert.throws(() => checkTransfer(buffer), TypeError);
  assert.throws(() => checkTransfer([new Uint8Array(1)]), /ArrayBuffers/);
  detachAll([buffer]);
  assert.equal(buffer.detached, true);
  assert.throws(() => checkTransfer([buffer]), /detached/);
});
