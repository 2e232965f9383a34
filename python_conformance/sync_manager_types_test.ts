// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestSyncManagerTypes, ported (see _util.ts for how): an object
// of a Manager is made here, a child checks and changes it through its
// handle (_sync_manager_targets.ts), and the test checks the change.
// CPython runs the class once, with its default start method; here once
// per backend, which starts the child (the manager's server is a Worker
// of this process on both).
//
// How a proxy's Python syntax reads here is said in managers_test.ts; a
// type the Manager has no method for (`manager.RLock()`, `.set()`, ...) is
// made with `manager.create(typeid, args)`, as a registered type is.
// CPython's wait_proc_exit waits for active_children() to be at most the
// manager's process: here the manager is no child, and the join is enough.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { ProcessError } from "../errors.ts";
import {
  type DictProxy,
  type ListProxy,
  Manager,
  type SharedObject,
} from "../manager.ts";
import type { Target } from "../process.ts";
import * as targets from "./_sync_manager_targets.ts";
import { type Backend, BACKENDS, testScope } from "./_util.ts";

/** setUp and tearDown: a started manager; run_worker. */
async function setUp(backend: Backend) {
  const mp = getContext(backend);
  const scope = testScope();
  const manager = new Manager();
  await manager.start();
  return {
    manager,
    /** run_worker: a daemon child runs `worker(obj)` and exits with 0. */
    async runWorker<A extends unknown[]>(
      worker: Target<A>,
      ...args: A
    ): Promise<void> {
      const proc = new mp.Process({ target: worker, args });
      proc.daemon = true;
      proc.start();
      await proc.join();
      assert.equal(proc.exitCode, 0);
    },
    async [Symbol.asyncDispose]() {
      try {
        await scope[Symbol.asyncDispose]();
      } finally {
        await manager.shutdown();
      }
    },
  };
}

/** test_semaphore(sname="Semaphore"). */
async function testSemaphore(
  backend: Backend,
  sname: string,
): Promise<void> {
  await using t = await setUp(backend);
  const o = await t.manager.create(sname);
  await t.runWorker(targets.testSemaphore, o);
  await o.call("release");
}

/** test_queue(qname="Queue"). */
async function testQueue(backend: Backend, qname: string): Promise<void> {
  await using t = await setUp(backend);
  const o = await t.manager.create(qname, [2]);
  await o.call("put", [5]);
  await o.call("put", [6]);
  await t.runWorker(targets.testQueue, o);
  assert(await o.call("empty"));
  assert(!await o.call("full"));
}

for (const backend of BACKENDS) {
  const name = (test: string) => `${backend}: TestSyncManagerTypes.${test}`;

  Deno.test(name("test_event"), async () => {
    await using t = await setUp(backend);
    const o = await t.manager.Event();
    await o.set();
    await t.runWorker(targets.testEvent, o);
    assert(!await o.isSet());
    await o.wait(1); // 0.001 s
  });

  Deno.test(name("test_lock"), async () => {
    await using t = await setUp(backend);
    const o = await t.manager.Lock();
    await t.runWorker(targets.testLock, o);
    await o.release();
    await assert.rejects(o.release(), { name: "RuntimeError" }); // already released
  });

  /** test_rlock(lname="RLock"). */
  Deno.test({
    name: name("test_rlock"),
    async fn() {
      await using t = await setUp(backend);
      const o = await t.manager.create("RLock");
      await t.runWorker(targets.testRlock, o);
    },
  });

  Deno.test({
    name: name("test_semaphore"),
    fn: () => testSemaphore(backend, "Semaphore"),
  });

  Deno.test({
    name: name("test_bounded_semaphore"),
    fn: () => testSemaphore(backend, "BoundedSemaphore"),
  });

  Deno.test({
    name: name("test_condition"),
    async fn() {
      await using t = await setUp(backend);
      const o = await t.manager.create("Condition");
      await t.runWorker(targets.testCondition, o);
    },
  });

  Deno.test({
    name: name("test_barrier"),
    async fn() {
      await using t = await setUp(backend);
      const o = await t.manager.create("Barrier", [5]);
      await t.runWorker(targets.testBarrier, o);
    },
  });

  Deno.test({
    name: name("test_pool"),
    async fn() {
      await using t = await setUp(backend);
      const o = await t.manager.create("Pool", [4]); // processes=4
      await t.runWorker(targets.testPool, o);
    },
  });

  Deno.test(name("test_queue"), () => testQueue(backend, "Queue"));

  Deno.test(
    name("test_joinable_queue"),
    () => testQueue(backend, "JoinableQueue"),
  );

  Deno.test(name("test_list"), async () => {
    await using t = await setUp(backend);
    const o: ListProxy<number> = await t.manager.list();
    await o.append(5);
    await t.runWorker(targets.testList, o);
    assert.notEqual(o, null);
    assert.equal(await o.length(), 0);
  });

  Deno.test(name("test_dict"), async () => {
    await using t = await setUp(backend);
    const o: DictProxy<string, number> = await t.manager.dict();
    await o.set("foo", 5);
    await t.runWorker(targets.testDict, o);
    assert.notEqual(o, null);
    assert.equal(await o.size(), 0);
  });

  Deno.test(name("test_value"), async () => {
    await using t = await setUp(backend);
    const o = await t.manager.Value("i", 1);
    await t.runWorker(targets.testValue, o);
    assert.equal(await o.get(), 2); // o.value
    assert.equal(await o.get(), 2);
  });

  Deno.test({
    name: name("test_array"),
    async fn() {
      await using t = await setUp(backend);
      const o = await t.manager.create("Array", ["i", [0, 1]]);
      await t.runWorker(targets.testArray, o);
    },
  });

  Deno.test(name("test_namespace"), async () => {
    await using t = await setUp(backend);
    const o = await t.manager.Namespace();
    await o.set("x", 0);
    await o.set("y", 1);
    await t.runWorker(targets.testNamespace, o);
  });

  Deno.test({
    name: name("test_set"),
    async fn() {
      await using t = await setUp(backend);
      let o = await t.manager.create("set");
      await t.runWorker(targets.testSetOperatorSymbols, o);
      o = await t.manager.create("set");
      await t.runWorker(targets.testSetOperatorMethods, o);
      o = await t.manager.create("set");
      await t.runWorker(targets.testSetComparisons, o);
    },
  });

  Deno.test({
    name: name("test_set_init"),
    async fn() {
      await using t = await setUp(backend);
      const value = async (o: SharedObject) =>
        new Set(await o.call("#GETVALUE") as Iterable<unknown>);
      let o = await t.manager.create("set", [new Set(["a", "b", "c"])]);
      assert.deepEqual(await value(o), new Set(["a", "b", "c"]));
      o = await t.manager.create("set", [["a", "b", "c"]]);
      assert.deepEqual(await value(o), new Set(["a", "b", "c"]));
      o = await t.manager.create("set", [{ a: 1, b: 2, c: 3 }]);
      assert.deepEqual(await value(o), new Set(["a", "b", "c"]));
      // Python's RemoteError: the server failed to make it.
      await assert.rejects(t.manager.create("set", [1234]), ProcessError);
    },
  });

  Deno.test({
    name: name("test_set_contain_all_method"),
    async fn() {
      await using t = await setUp(backend);
      const o = await t.manager.create("set");
      const setMethods = [
        "__and__",
        "__class_getitem__",
        "__contains__",
        "__iand__",
        "__ior__",
        "__isub__",
        "__iter__",
        "__ixor__",
        "__len__",
        "__or__",
        "__rand__",
        "__ror__",
        "__rsub__",
        "__rxor__",
        "__sub__",
        "__xor__",
        "__ge__",
        "__gt__",
        "__le__",
        "__lt__",
        "add",
        "clear",
        "copy",
        "difference",
        "difference_update",
        "discard",
        "intersection",
        "intersection_update",
        "isdisjoint",
        "issubset",
        "issuperset",
        "pop",
        "remove",
        "symmetric_difference",
        "symmetric_difference_update",
        "union",
        "update",
      ];
      // dir(o): the methods the handle may call.
      for (const method of setMethods) assert(o.exposed.includes(method));
    },
  });
}
