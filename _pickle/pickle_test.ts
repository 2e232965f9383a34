// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The pickle reader and writer against real python3: what Python dumps is
// read here, what is written here Python loads, and a hostile pickle is
// refused.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { dumps, loads, ProxyRef, Token, Tuple, tuple } from "./pickle.ts";

/** Runs a Python program with `input` on its stdin; returns its stdout. */
async function python(code: string, input = ""): Promise<string> {
  const child = new Deno.Command("python3", {
    args: ["-c", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code: status, stdout, stderr } = await child.output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(status, 0, `python3 failed: ${err}`);
  return new TextDecoder().decode(stdout);
}

/** Pickles of each Python expression, by protocol, read here. */
async function fromPython(
  expressions: string[],
  protocols = [2, 3, 4, 5],
): Promise<unknown[][]> {
  const out = await python(
    `import base64, pickle, sys
exprs = sys.stdin.read().split("\\n")
for p in ${JSON.stringify(protocols)}:
    for e in exprs:
        print(base64.b64encode(pickle.dumps(eval(e), p)).decode())`,
    expressions.join("\n"),
  );
  const lines = out.trim().split("\n");
  return protocols.map((_, p) =>
    expressions.map((_, e) =>
      loads(Buffer.from(lines[p * expressions.length + e], "base64"))
    )
  );
}

/** Python's repr of each value pickled here. */
async function inPython(values: unknown[]): Promise<string[]> {
  const input = values.map((v) => Buffer.from(dumps(v)).toString("base64"));
  const out = await python(
    `import base64, pickle, sys
for line in sys.stdin.read().split():
    print(repr(pickle.loads(base64.b64decode(line))))`,
    input.join("\n"),
  );
  return out.trim().split("\n");
}

Deno.test("pickle: Python's data reads here with every protocol 2 to 5", async () => {
  const expressions = [
    "None",
    "True",
    "False",
    "0",
    "-1",
    "255",
    "256",
    "65535",
    "65536",
    "2**31 - 1",
    "-2**31",
    "2**31",
    "2**53 - 1",
    "2**53",
    "-2**63",
    "2**100",
    "-2**2100",
    "1.5",
    "-0.0",
    "float('inf')",
    "'héllo ✓'",
    "'x' * 300",
    "b'\\x00\\xff'",
    "bytes(70000)",
    "bytearray(b'ab')",
    "[1, [2, [3]], []]",
    "()",
    "(1,)",
    "(1, 2, 3, 4)",
    "{'a': 1, 'b': {'c': [True]}}",
    "{1: 'one', (1, 2): 'pair'}",
    "{1, 2, 3}",
    "frozenset({'x'})",
    "[x for x in range(2000)]",
  ];
  for (const got of await fromPython(expressions)) {
    const [none, yes, no, ...rest] = got;
    assert.equal(none, null);
    assert.equal(yes, true);
    assert.equal(no, false);
    assert.deepEqual(rest.slice(0, 11), [
      0,
      -1,
      255,
      256,
      65535,
      65536,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 31,
      2 ** 53 - 1,
      2n ** 53n,
    ]);
    assert.equal(rest[11], -(2n ** 63n));
    assert.equal(rest[12], 2n ** 100n);
    assert.equal(rest[13], -(2n ** 2100n));
    assert.equal(rest[14], 1.5);
    assert(Object.is(rest[15], -0));
    assert.equal(rest[16], Infinity);
    assert.equal(rest[17], "héllo ✓");
    assert.equal(rest[18], "x".repeat(300));
    assert.deepEqual(rest[19], new Uint8Array([0, 255]));
    assert.deepEqual(rest[20], new Uint8Array(70000));
    assert.deepEqual(rest[21], new Uint8Array([97, 98]));
    assert.deepEqual(rest[22], [1, [2, [3]], []]);
    for (
      const [i, items] of [[23, []], [24, [1]], [25, [1, 2, 3, 4]]] as const
    ) {
      assert(rest[i] instanceof Tuple);
      assert.deepEqual([...(rest[i] as Tuple)], items);
    }
    assert.deepEqual(rest[26], { a: 1, b: { c: [true] } });
    const map = rest[27] as Map<unknown, unknown>;
    assert(map instanceof Map);
    assert.equal(map.get(1), "one");
    const pair = [...map.keys()][1] as Tuple;
    assert.deepEqual([...pair], [1, 2]);
    assert.deepEqual(rest[28], new Set([1, 2, 3]));
    assert.deepEqual(rest[29], new Set(["x"]));
    assert.deepEqual(rest[30], Array.from({ length: 2000 }, (_, i) => i));
  }
});

Deno.test("pickle: shared and self-containing Python values keep their shape", async () => {
  const [[shared, cyclic]] = await fromPython([
    "(lambda a: [a, a])([1])",
    "(lambda a: (a.append(a), a)[1])([])",
  ], [4]);
  const [a, b] = shared as unknown[][];
  assert.equal(a, b);
  const c = cyclic as unknown[];
  assert.equal(c[0], c);
});

Deno.test("pickle: what is written here Python loads as the same data", async () => {
  const values = [
    null,
    undefined,
    true,
    0,
    -1,
    255,
    65535,
    65536,
    -(2 ** 31),
    2 ** 31,
    Number.MAX_SAFE_INTEGER,
    2n ** 64n,
    -(2n ** 64n),
    -128n,
    128n,
    1.5,
    -0,
    NaN,
    1e300,
    "héllo ✓",
    "x".repeat(300),
    new Uint8Array([0, 255]),
    [1, [2, []]],
    tuple(),
    tuple(1),
    tuple(1, "a", null, 2.5),
    { a: 1, b: { c: [true] } },
    new Map<unknown, unknown>([[1, "one"], [tuple(1, 2), "pair"]]),
    new Set([1, 2]),
    new RangeError("out"),
  ];
  assert.deepEqual(await inPython(values), [
    "None",
    "None",
    "True",
    "0",
    "-1",
    "255",
    "65535",
    "65536",
    "-2147483648",
    "2147483648",
    "9007199254740991",
    "18446744073709551616",
    "-18446744073709551616",
    "-128",
    "128",
    "1.5",
    "-0.0",
    "nan",
    "1e+300",
    "'héllo ✓'",
    `'${"x".repeat(300)}'`,
    "b'\\x00\\xff'",
    "[1, [2, []]]",
    "()",
    "(1,)",
    "(1, 'a', None, 2.5)",
    "{'a': 1, 'b': {'c': [True]}}",
    "{1: 'one', (1, 2): 'pair'}",
    "{1, 2}",
    "Exception('RangeError: out')",
  ]);
});

Deno.test("pickle: a long string and long bytes use the 4-byte lengths", async () => {
  const big = new Uint8Array(300_000).fill(7);
  const [repr] = await inPython([[big.length, "é".repeat(70_000), big]]);
  assert.equal(repr.slice(0, 12), "[300000, 'éé");
  assert.deepEqual(loads(dumps(big)), big);
});

Deno.test("pickle: builtin exceptions come back as errors with their Python name", async () => {
  const [[value, key, noted]] = await fromPython([
    "ValueError('bad value')",
    "KeyError('k')",
    "(lambda e: (e.add_note('n'), e)[1])(RuntimeError('r'))",
  ], [4]);
  assert(value instanceof Error);
  assert.equal(value.name, "ValueError");
  assert.equal(value.message, "bad value");
  assert.equal((key as Error).name, "KeyError");
  assert.equal((noted as Error).message, "r");
  assert.deepEqual((noted as { pythonState: unknown }).pythonState, {
    __notes__: ["n"],
  });
  assert.deepEqual(await inPython([new TypeError("t")]), ["TypeError('t')"]);
});

Deno.test("pickle: a pickle that would run code is refused", async () => {
  const out = await python(
    `import base64, os, pickle
class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))
print(base64.b64encode(pickle.dumps(Evil(), 4)).decode())
print(base64.b64encode(pickle.dumps(Evil(), 0)).decode())
print(base64.b64encode(pickle.dumps(Evil(), 2)).decode())`,
  );
  const [stack, text, proto2] = out.trim().split("\n").map((line) =>
    Buffer.from(line, "base64")
  );
  assert.throws(() => loads(stack), {
    name: "TypeError",
    message: /names posix\.system.*refused/,
  });
  assert.throws(() => loads(text), /names posix\.system/);
  assert.throws(() => loads(proto2), /names posix\.system/);
  // A builtin exception class called with something that is not a tuple.
  const name = (s: string) => [0x8c, s.length, ...new TextEncoder().encode(s)];
  const call = new Uint8Array([
    0x80,
    4,
    ...name("builtins"),
    ...name("eval"),
    0x93,
    0x29,
    0x52,
    0x2e,
  ]);
  assert.throws(() => loads(call), /names builtins\.eval/);
});

Deno.test("pickle: garbage and cut-off pickles are clear errors", () => {
  assert.throws(() => loads(new TextEncoder().encode("hello")), {
    name: "TypeError",
    message: /Cannot unpickle the message: unknown opcode 0x68|gets memo/,
  });
  const whole = dumps({ a: [1, 2, 3], b: "text" });
  for (let cut = 0; cut < whole.length; cut++) {
    assert.throws(() => loads(whole.subarray(0, cut)), TypeError);
  }
  assert.throws(
    () => loads(new Uint8Array([0x80, 4, 0x8c, 200, 1, 2])),
    /ends in the middle/,
  );
  assert.throws(() => loads(new Uint8Array([0x80, 4, 0x61, 0x2e])), /pops/);
});

Deno.test("pickle: values it cannot carry are refused when written", () => {
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  assert.throws(() => dumps(cyclic), /contains itself/);
  assert.throws(() => dumps(() => 1), /Cannot pickle a function/);
  assert.throws(() => dumps(new Date()), /Cannot pickle a Date/);
  assert.throws(() => dumps(Symbol("s")), /Cannot pickle a symbol/);
  // A value twice (not a cycle) is fine.
  const shared = [1];
  assert.deepEqual(loads(dumps([shared, shared])), [[1], [1]]);
});

Deno.test("pickle: a dict key __proto__ stays an own key", () => {
  const out = loads(dumps(JSON.parse('{"__proto__": 1}'))) as object;
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Object.keys(out), ["__proto__"]);
});

Deno.test("pickle: a one-byte opcode that grows the buffer is kept", () => {
  // 300 Nones: the buffer (256 bytes at first) grows on a NONE byte.
  for (const n of [250, 251, 252, 253, 254, 255, 300, 600]) {
    assert.deepEqual(
      loads(dumps(new Array(n).fill(null))),
      Array(n).fill(null),
    );
  }
});

Deno.test("pickle: manager proxies and tokens read and write as Python's", async () => {
  const [[proxy, token]] = await fromPython([
    "__import__('multiprocessing.managers').managers.RebuildProxy.__call__ and (lambda m: type('P', (), {'__reduce__': lambda s: (m.RebuildProxy, (m.ListProxy, m.Token('list', ('127.0.0.1', 5), '1f'), 'pickle', {'exposed': ('append',)}))})())(__import__('multiprocessing.managers').managers)",
    "__import__('multiprocessing.managers').managers.Token('dict', '/tmp/s', 'a')",
  ], [2, 4, 5]);
  assert(proxy instanceof ProxyRef);
  assert.equal(proxy.proxyType, "multiprocessing.managers.ListProxy");
  assert.deepEqual(
    [proxy.token.typeid, [...proxy.token.address as unknown[]], proxy.token.id],
    ["list", ["127.0.0.1", 5], "1f"],
  );
  assert.deepEqual(proxy.kwds, { exposed: tuple("append") });
  assert(token instanceof Token);
  assert.deepEqual({ ...token }, {
    typeid: "dict",
    address: "/tmp/s",
    id: "a",
  });
  // Python rebuilds both (the proxy told not to connect: incref False).
  (proxy.kwds as Record<string, unknown>).incref = false;
  const out = await python(
    `import base64, pickle, sys
token, proxy = pickle.loads(base64.b64decode(sys.stdin.read()))
print(token, type(proxy).__name__, proxy._token)`,
    Buffer.from(dumps([token, proxy])).toString("base64"),
  );
  assert.equal(
    out.trim(),
    "Token(typeid='dict', address='/tmp/s', id='a') ListProxy Token(typeid='list', address=('127.0.0.1', 5), id='1f')",
  );
  // A proxy class is only data: calling one is refused.
  const call = new Uint8Array([
    0x80,
    4,
    0x8c,
    24,
    ...new TextEncoder().encode("multiprocessing.managers"),
    0x8c,
    9,
    ...new TextEncoder().encode("ListProxy"),
    0x93,
    0x29,
    0x52,
    0x2e,
  ]);
  assert.throws(() => loads(call), /calls something/);
});
