// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The children of sync_manager_types_test.ts (CPython's
// TestSyncManagerTypes._test_* class methods): each gets a handle to an
// object of the manager, checks it and changes it. A failed check throws,
// so the child's exit code is not 0, which the test checks (as CPython's
// run_worker does).
import assert from "node:assert/strict";
import {
  type DictProxy,
  DictProxy as DictProxyClass,
  type EventProxy,
  type ListProxy,
  ListProxy as ListProxyClass,
  type LockProxy,
  type NamespaceProxy,
  type SharedObject,
  type ValueProxy,
} from "../manager.ts";

export async function testEvent(obj: EventProxy): Promise<void> {
  assert(await obj.isSet());
  await obj.wait();
  await obj.call("clear");
  await obj.wait(1); // 0.001 s
}

export async function testLock(obj: LockProxy): Promise<void> {
  await obj.acquire();
  await obj.call("locked");
}

export async function testRlock(obj: SharedObject): Promise<void> {
  await obj.call("acquire");
  await obj.call("release");
  await obj.call("locked");
}

export async function testSemaphore(obj: SharedObject): Promise<void> {
  await obj.call("acquire");
}

export async function testCondition(obj: SharedObject): Promise<void> {
  await obj.call("acquire");
  await obj.call("release");
}

export async function testBarrier(obj: SharedObject): Promise<void> {
  // `obj.parties`: the BarrierProxy reads the attribute.
  assert.equal(await obj.call("__getattribute__", ["parties"]), 5);
  await obj.call("reset");
}

export async function testPool(obj: SharedObject): Promise<void> {
  // `with obj: pass`: PoolProxy's __exit__ terminates the pool.
  await obj.call("terminate");
}

export async function testQueue(obj: SharedObject): Promise<void> {
  assert.equal(await obj.call("qsize"), 2);
  assert(await obj.call("full"));
  assert(!await obj.call("empty"));
  assert.equal(await obj.call("get"), 5);
  assert(!await obj.call("empty"));
  assert.equal(await obj.call("get"), 6);
  assert(await obj.call("empty"));
}

export async function testList(obj: ListProxy<number>): Promise<void> {
  assert.equal(await obj.at(0), 5);
  assert.equal(await obj.call("count", [5]), 1);
  assert.equal(await obj.call("index", [5]), 0);
  await obj.extend([7]); // obj += [7]: ListProxy.__iadd__ calls extend
  assert(obj instanceof ListProxyClass);
  assert.deepEqual(await obj.toArray(), [5, 7]);
  await obj.call("__imul__", [2]); // obj *= 2
  assert(obj instanceof ListProxyClass);
  assert.deepEqual(await obj.toArray(), [5, 7, 5, 7]);
  let doubleObj = await obj.call("__mul__", [2]) as number[]; // obj * 2
  assert(Array.isArray(doubleObj));
  assert.deepEqual(doubleObj, [5, 7, 5, 7, 5, 7, 5, 7]);
  doubleObj = await obj.call("__rmul__", [2]) as number[]; // 2 * obj
  assert(Array.isArray(doubleObj));
  assert.deepEqual(doubleObj, [5, 7, 5, 7, 5, 7, 5, 7]);
  const copiedObj = await obj.call("copy") as number[];
  assert(Array.isArray(copiedObj));
  assert.deepEqual(copiedObj, [5, 7, 5, 7]);
  await obj.extend([...doubleObj, ...copiedObj]);
  await obj.call("sort");
  await obj.call("reverse");
  for await (const _x of obj) {
    // pass
  }
  assert.equal(await obj.length(), 16);
  assert.equal(await obj.pop(0), 7);
  await obj.call("clear");
  assert.equal(await obj.length(), 0);
}

export async function testDict(obj: DictProxy<string, number>): Promise<void> {
  assert.equal(await obj.size(), 1);
  assert.equal(await obj.call("__getitem__", ["foo"]), 5);
  assert.equal(await obj.get("foo"), 5);
  assert.deepEqual(await obj.entries(), [["foo", 5]]);
  assert.deepEqual(await obj.keys(), ["foo"]);
  assert.deepEqual(await obj.values(), [5]);
  assert.deepEqual(await obj.copy(), { foo: 5 });
  await obj.call("__ior__", [{ bar: 6 }]); // obj |= {'bar': 6}
  assert(obj instanceof DictProxyClass);
  assert.deepEqual(await obj.copy(), { foo: 5, bar: 6 });
  let x: unknown = await obj.call("__reversed__"); // reversed(obj)
  assert(Array.isArray(x)); // Python: a list iterator
  assert.deepEqual([...x], ["bar", "foo"]);
  x = await obj.call("__ror__", [{ bar: 7, baz: 7 }]); // {...} | obj
  assert.deepEqual(x, { foo: 5, bar: 6, baz: 7 });
  x = await obj.call("__or__", [{ bar: 7, baz: 7 }]); // obj | {...}
  assert.deepEqual(x, { foo: 5, bar: 7, baz: 7 });
  x = await obj.call("fromkeys", [["bar"], 6]);
  assert.deepEqual(x, { bar: 6 });
  x = await obj.call("popitem");
  assert(Array.isArray(x)); // Python: a tuple
  assert.deepEqual([...x], ["bar", 6]);
  await obj.call("setdefault", ["bar", 0]);
  await obj.update({ bar: 7 });
  assert.equal(await obj.call("pop", ["bar"]), 7);
  await obj.clear();
  assert.equal(await obj.size(), 0);
}

export async function testValue(obj: ValueProxy<number>): Promise<void> {
  assert.equal(await obj.get(), 1); // obj.value: the property calls get()
  assert.equal(await obj.get(), 1);
  await obj.set(2);
}

export async function testArray(obj: SharedObject): Promise<void> {
  assert.equal(await obj.call("__getitem__", [0]), 0);
  assert.equal(await obj.call("__getitem__", [1]), 1);
  assert.equal(await obj.call("__len__"), 2);
  // list(obj): ArrayProxy exposes no __iter__, so Python indexes until
  // IndexError.
  const items = [];
  const length = await obj.call("__len__") as number;
  for (let i = 0; i < length; i++) {
    items.push(await obj.call("__getitem__", [i]));
  }
  assert.deepEqual(items, [0, 1]);
}

export async function testNamespace(obj: NamespaceProxy): Promise<void> {
  assert.equal(await obj.get("x"), 0);
  assert.equal(await obj.get("y"), 1);
}

/** `set(obj)` of a SetProxy: its value. */
async function asSet(obj: SharedObject): Promise<Set<unknown>> {
  return new Set(await obj.call("#GETVALUE") as Iterable<unknown>);
}

export async function testSetOperatorSymbols(obj: SharedObject): Promise<void> {
  await obj.call("update", [["a", "b", "c"]]);
  assert.equal(await obj.call("__len__"), 3);
  assert(await obj.call("__contains__", ["a"]));
  assert(!await obj.call("__contains__", ["d"]));
  let result = await obj.call("__or__", [new Set(["d", "e"])]);
  assert.deepEqual(result, new Set(["a", "b", "c", "d", "e"]));
  result = await obj.call("__ror__", [new Set(["d", "e"])]);
  assert.deepEqual(result, new Set(["a", "b", "c", "d", "e"]));
  await obj.call("__ior__", [new Set(["d", "e"])]);
  assert.deepEqual(await asSet(obj), new Set(["a", "b", "c", "d", "e"]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  result = await obj.call("__rsub__", [new Set(["a", "b", "d"])]);
  assert.deepEqual(result, new Set(["d"]));
  result = await obj.call("__sub__", [new Set(["a", "b"])]);
  assert.deepEqual(result, new Set(["c"]));
  await obj.call("__isub__", [new Set(["a", "b"])]);
  assert.deepEqual(await asSet(obj), new Set(["c"]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  result = await obj.call("__rxor__", [new Set(["b", "c", "d"])]);
  assert.deepEqual(result, new Set(["a", "d"]));
  result = await obj.call("__xor__", [new Set(["b", "c", "d"])]);
  assert.deepEqual(result, new Set(["a", "d"]));
  await obj.call("__ixor__", [new Set(["b", "c", "d"])]);
  assert.deepEqual(await asSet(obj), new Set(["a", "d"]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  result = await obj.call("__and__", [new Set(["b", "c", "d"])]);
  assert.deepEqual(result, new Set(["b", "c"]));
  result = await obj.call("__rand__", [new Set(["b", "c", "d"])]);
  assert.deepEqual(result, new Set(["b", "c"]));
  await obj.call("__iand__", [new Set(["b", "c", "d"])]);
  assert.deepEqual(await asSet(obj), new Set(["b", "c"]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  assert.deepEqual(await asSet(obj), new Set(["a", "b", "c"]));
}

export async function testSetOperatorMethods(obj: SharedObject): Promise<void> {
  await obj.call("add", ["d"]);
  assert(await obj.call("__contains__", ["d"]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  const copyObj = await obj.call("copy");
  assert.deepEqual(copyObj, await asSet(obj));
  await obj.call("remove", ["a"]);
  assert(!await obj.call("__contains__", ["a"]));
  await assert.rejects(obj.call("remove", ["a"]), { name: "KeyError" });

  await obj.call("clear");
  await obj.call("update", [["a"]]);
  await obj.call("discard", ["a"]);
  assert(!await obj.call("__contains__", ["a"]));
  await obj.call("discard", ["a"]);
  assert(!await obj.call("__contains__", ["a"]));
  await obj.call("update", [["a"]]);
  const popped = await obj.call("pop");
  assert(!await obj.call("__contains__", [popped]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  let result = await obj.call("intersection", [new Set(["b", "c", "d"])]);
  assert.deepEqual(result, new Set(["b", "c"]));
  await obj.call("intersection_update", [new Set(["b", "c", "d"])]);
  assert.deepEqual(await asSet(obj), new Set(["b", "c"]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  result = await obj.call("difference", [new Set(["a", "b"])]);
  assert.deepEqual(result, new Set(["c"]));
  await obj.call("difference_update", [new Set(["a", "b"])]);
  assert.deepEqual(await asSet(obj), new Set(["c"]));

  await obj.call("clear");
  await obj.call("update", [["a", "b", "c"]]);
  result = await obj.call("symmetric_difference", [new Set(["b", "c", "d"])]);
  assert.deepEqual(result, new Set(["a", "d"]));
  await obj.call("symmetric_difference_update", [new Set(["b", "c", "d"])]);
  assert.deepEqual(await asSet(obj), new Set(["a", "d"]));
}

export async function testSetComparisons(obj: SharedObject): Promise<void> {
  await obj.call("update", [["a", "b", "c"]]);
  const result = await obj.call("union", [new Set(["d", "e"])]);
  assert.deepEqual(result, new Set(["a", "b", "c", "d", "e"]));
  assert(await obj.call("isdisjoint", [new Set(["d", "e"])]));
  assert(!await obj.call("isdisjoint", [new Set(["a", "d"])]));

  assert(await obj.call("issubset", [new Set(["a", "b", "c", "d"])]));
  assert(!await obj.call("issubset", [new Set(["a", "b"])]));
  assert(await obj.call("__lt__", [new Set(["a", "b", "c", "d"])]));
  assert(await obj.call("__le__", [new Set(["a", "b", "c"])]));

  assert(await obj.call("issuperset", [new Set(["a", "b"])]));
  assert(!await obj.call("issuperset", [new Set(["a", "b", "d"])]));
  assert(await obj.call("__gt__", [new Set(["a"])]));
  assert(await obj.call("__ge__", [new Set(["a", "b"])]));
}
