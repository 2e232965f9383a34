// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A Deno client of a real Python BaseManager serving a queue.Queue: the
// server and a Python client are started by each test and killed in
// `finally`; nothing listens beyond loopback.
import assert from "node:assert/strict";
import {
  BaseManager,
  ListProxy,
  Manager,
  type SharedObject,
} from "./manager.ts";
import { AuthenticationError, Empty, Full, ProcessError } from "./errors.ts";
import { BACKENDS, startChild } from "./_test_util.ts";
import { Pipe } from "./pipe.ts";
import { Pool } from "./pool.ts";

const TARGETS = new URL("./testdata/manager_targets.ts", import.meta.url);

const KEY = "abracadabra";

/** The server: a queue with one item from Python in it. */
const SERVER = `
import json, queue, sys
from multiprocessing.managers import BaseManager
q = queue.Queue()
q.put("from python")
class QueueManager(BaseManager):
    pass
QueueManager.register("get_queue", callable=lambda: q)
where = sys.argv[1]
address = where if where.startswith("/") else ("127.0.0.1", 0)
server = QueueManager(address=address, authkey=sys.argv[2].encode()).get_server()
print(json.dumps(server.address), flush=True)
server.serve_forever()
`;

/** A Python client: takes one item off the server's queue and prints it. */
const TAKER = `
import sys
from multiprocessing.managers import BaseManager
class QueueManager(BaseManager):
    pass
QueueManager.register("get_queue")
where = sys.argv[1]
address = where if where.startswith("/") else ("127.0.0.1", int(where))
m = QueueManager(address=address, authkey=sys.argv[2].encode())
m.connect()
print(repr(m.get_queue().get(timeout=10)), flush=True)
`;

/**
 * Waits for the server to hold `count` objects: a process's references are
 * given back when the server sees its connection close, a moment after it
 * ended.
 */
async function objectsBecome(manager: Manager, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let now = await manager.numberOfObjects();
  while (now !== count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    now = await manager.numberOfObjects();
  }
  assert.equal(now, count);
}

/** The server, killed when disposed. */
async function startServer(where: string, script = SERVER) {
  const child = new Deno.Command("python3", {
    args: ["-c", script, where, KEY],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The Python manager ended before it listened");
    text += value;
  }
  await reader.cancel();
  const printed = JSON.parse(text);
  return {
    where: typeof printed === "string" ? printed : String(printed[1]),
    address: typeof printed === "string"
      ? printed
      : { hostname: printed[0], port: printed[1] },
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

async function pythonTakes(where: string): Promise<string> {
  const { code, stdout } = await new Deno.Command("python3", {
    args: ["-c", TAKER, where, KEY],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  return new TextDecoder().decode(stdout).trim();
}

for (const transport of ["tcp", "unix"] as const) {
  Deno.test(`manager (${transport}): a Deno client uses a Python BaseManager's queue.Queue`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "mp_manager_" });
    try {
      await using server = await startServer(
        transport === "tcp" ? "0" : `${dir}/manager.sock`,
      );
      const manager = new BaseManager({
        address: server.address,
        authkey: KEY,
      });
      await manager.connect();
      {
        await using queue = await manager.create("get_queue");
        assert(queue.exposed.includes("put") && queue.exposed.includes("get"));
        assert.equal(await queue.call("get"), "from python");
        await queue.call("put", [{ n: [1, 2n ** 80n] }]);
        assert.equal(await queue.call("qsize"), 1);
        // A Python client of the same server sees what Deno put.
        assert.equal(
          await pythonTakes(server.where),
          "{'n': [1, 1208925819614629174706176]}",
        );
        await assert.rejects(queue.call("get", [], { timeout: 0.05 }), Empty);
        await assert.rejects(queue.call("get_nowait"), Empty);
        await assert.rejects(queue.call("__del__"), /does not expose/);
        const [a, b] = await Promise.all([
          queue.call("put", ["a"]),
          queue.call("get"),
        ]);
        assert.deepEqual([a, b], [null, "a"]);
      }
      await assert.rejects(manager.create("no_such_type"), ProcessError);
      const intruder = new BaseManager({
        address: server.address,
        authkey: "wrong",
      });
      await assert.rejects(intruder.connect(), AuthenticationError);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("manager: a closed handle refuses calls", async () => {
  await using server = await startServer("0");
  const manager = new BaseManager({ address: server.address, authkey: KEY });
  const queue = await manager.create("get_queue");
  await queue.close();
  await queue.close();
  await assert.rejects(queue.call("qsize"), /closed/);
});

for (const backend of BACKENDS) {
  Deno.test(`Manager (${backend}): a dict, a Value and a Lock shared by 4 children`, async () => {
    await using manager = new Manager();
    await manager.start();
    const d = await manager.dict<string, number>();
    const total = await manager.Value("i", 0);
    const lock = await manager.Lock();
    const children = [0, 1, 2, 3].map((child) =>
      startChild(TARGETS, backend, "fillDict", [d, total, lock, child, 25])
    );
    try {
      for (const p of children) await p.join();
    } finally {
      for (const p of children) if (p.isAlive()) p.kill();
    }
    assert.deepEqual(children.map((p) => p.exitCode), [0, 0, 0, 0]);
    assert.equal(await d.size(), 100);
    assert.equal(await total.get(), 100);
    for (const child of [0, 1, 2, 3]) {
      assert.equal(await d.get(`${child}:24`), child * 1000 + 24);
    }
    assert.equal(await d.get("missing"), undefined);
  });
}

Deno.test("Manager: Python's SyncManager uses a Deno Manager", async () => {
  await using manager = new Manager({ authkey: KEY });
  await manager.start();
  const { code, stdout } = await new Deno.Command("python3", {
    args: [
      "-c",
      `
import sys
from multiprocessing.managers import SyncManager
m = SyncManager(address=sys.argv[1], authkey=sys.argv[2].encode())
m.connect()
d = m.dict()
d["from"] = "python"
d.update({"n": 2 ** 70})
q = m.Queue()
q.put([1, 2])
ns = m.Namespace(x=1)
ns.y = 2
print(len(d), d["n"], d.get("from"), q.get(), q.qsize(), ns.x + ns.y, sep=",")
`,
      manager.address as string,
      KEY,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  assert.equal(
    new TextDecoder().decode(stdout).trim(),
    "2,1180591620717411303424,python,[1, 2],0,3",
  );
});

Deno.test("Manager: objects of each kind", async () => {
  await using manager = new Manager();
  await manager.start();
  const list = await manager.list<number>([3, 1]);
  await list.extend([2]);
  assert.equal(await list.pop(0), 3);
  await assert.rejects(list.at(5), { name: "IndexError" });
  assert.deepEqual(await list.toArray(), [1, 2]);
  const queue = await manager.Queue<string>(1);
  await queue.put("a");
  await assert.rejects(queue.put("b", { timeout: 10 }), Full);
  const got = queue.get();
  assert.equal(await got, "a");
  await assert.rejects(queue.get({ timeout: 10 }), Empty);
  const event = await manager.Event();
  // One handle's calls run in order, so a wait there would hold back a
  // set through the same handle: wait with a timeout first.
  assert.equal(await event.wait(10), false);
  await event.set();
  assert.equal(await event.wait(), true);
  assert.equal(await event.isSet(), true);
  const d = await manager.dict(new Map([[1, "one"]]));
  assert.equal(await d.delete(1), true);
  assert.equal(await d.delete(1), false);
  const ns = await manager.Namespace();
  await assert.rejects(ns.get("nope"), { name: "AttributeError" });
});

Deno.test("Manager: register(typeid, factory) serves a type of your own", async () => {
  await using manager = new Manager();
  manager.register("Counter", { module: TARGETS.href, export: "makeCounter" });
  await manager.start();
  assert.throws(
    () => manager.register("Late", { module: TARGETS.href, export: "x" }),
    /before start/,
  );
  const counter = await manager.create("Counter", [10]);
  assert.deepEqual([...counter.exposed], ["add"]);
  assert.equal(await counter.call("add", [5]), 15);
  assert.equal(await counter.call("add", [1]), 16);
  await assert.rejects(counter.call("_secret"), /does not expose/);
  await assert.rejects(manager.create("Nothing"), ProcessError);
});

Deno.test("Manager: a list stored in a dict comes back as a working handle", async () => {
  await using manager = new Manager();
  await manager.start();
  const d = await manager.dict<string, unknown>();
  const inner = await manager.list<number>([1]);
  await d.set("k", inner);
  const got = await d.get("k") as ListProxy<number>;
  assert(got instanceof ListProxy);
  await got.append(2);
  assert.deepEqual(await inner.toArray(), [1, 2]);
  // Nested in a value too.
  await d.set("deep", { lists: [inner] });
  const deep = await d.get("deep") as { lists: ListProxy<number>[] };
  assert.equal(await deep.lists[0].length(), 2);
  const seen = [];
  for await (const n of got) seen.push(n);
  assert.deepEqual(seen, [1, 2]);
  await got.close();
  await deep.lists[0].close();
  await inner.close();
  // The dict holds a handle to the list: the list stays.
  {
    await using again = await d.get("k") as ListProxy;
    assert.equal(await again.length(), 2);
  }
  await d.close();
  assert.equal(await manager.numberOfObjects(), 0);
});

Deno.test("Manager: objects are dropped when their last handle is closed", async () => {
  await using manager = new Manager();
  await manager.start();
  const a = await manager.dict();
  const b = await manager.list();
  assert.equal(await manager.numberOfObjects(), 2);
  await a.close();
  assert.equal(await manager.numberOfObjects(), 1);
  await b.close();
  await b.close();
  assert.equal(await manager.numberOfObjects(), 0);
});

Deno.test("Manager: a method registered with methodToTypeid returns a handle", async () => {
  await using manager = new Manager();
  manager.register("Shelf", { module: TARGETS.href, export: "makeShelf" }, {
    methodToTypeid: { reader: "Iterator", newShelf: "SubShelf" },
  });
  // No factory: its objects are what newShelf() returns.
  manager.register("SubShelf", null, { exposed: ["titles"] });
  await manager.start();
  const shelf = await manager.create("Shelf", [["a", "b"]]);
  {
    await using reader = await shelf.call("reader") as SharedObject;
    assert.deepEqual([...reader.exposed], ["__next__"]);
    assert.equal(await reader.call("__next__"), "a");
    assert.equal(await reader.call("__next__"), "b");
    await assert.rejects(reader.call("__next__"), { name: "StopIteration" });
    await using other = await shelf.call("newShelf", [["c"]]) as SharedObject;
    assert.equal(other.typeid, "SubShelf");
    assert.deepEqual([...other.exposed], ["titles"]);
    assert.deepEqual(await other.call("titles"), ["c"]);
    assert.equal(await manager.numberOfObjects(), 3);
  }
  assert.equal(await manager.numberOfObjects(), 1);
  await shelf.close();
  assert.equal(await manager.numberOfObjects(), 0);
});

for (const backend of BACKENDS) {
  Deno.test(`Manager (${backend}): a child's references end with it, however it ends`, async () => {
    await using manager = new Manager();
    await manager.start();
    const d = await manager.dict<string, number>();
    const done = await manager.Event();
    const p = startChild(TARGETS, backend, "holdUntilKilled", [d, done]);
    try {
      assert.equal(await done.wait(30_000), true);
      // The child holds its reference: the parent's close keeps the dict.
      await d.close();
      assert.equal(await manager.numberOfObjects(), 2);
      p.kill();
      await p.join();
      await objectsBecome(manager, 1);
    } finally {
      if (p.isAlive()) p.kill();
    }
  });
}

/** A Python SyncManager with a type whose method returns a proxy. */
const PROXY_SERVER = `
import json, sys
from multiprocessing.managers import SyncManager
class Shelf:
    def __init__(self): self.books = ["x", "y"]
    def reader(self): return iter(self.books)
class ShelfManager(SyncManager):
    pass
ShelfManager.register("Shelf", Shelf, method_to_typeid={"reader": "Iterator"})
where = sys.argv[1]
address = where if where.startswith("/") else ("127.0.0.1", 0)
server = ShelfManager(address=address, authkey=sys.argv[2].encode()).get_server()
print(json.dumps(server.address), flush=True)
server.serve_forever()
`;

Deno.test("manager: a Deno client gets proxies from a Python server, and counts references there", async () => {
  await using server = await startServer("0", PROXY_SERVER);
  const manager = new BaseManager({ address: server.address, authkey: KEY });
  const shelf = await manager.create("Shelf");
  {
    // method_to_typeid: the answer is a proxy (#PROXY).
    await using reader = await shelf.call("reader") as SharedObject;
    assert.equal(reader.typeid, "Iterator");
    assert.equal(await reader.call("__next__"), "x");
    assert.equal(await reader.call("__next__"), "y");
    await assert.rejects(reader.call("__next__"), { name: "StopIteration" });
    assert.equal(await manager.numberOfObjects(), 2);
  }
  assert.equal(await manager.numberOfObjects(), 1);
  // A list proxy stored in a dict, read back as a proxy (RebuildProxy).
  const d = await manager.create("dict");
  const list = await manager.create("list", [[1]]);
  await d.call("__setitem__", ["k", list]);
  const got = await d.call("__getitem__", ["k"]);
  assert(got instanceof ListProxy);
  await got.append(2);
  assert.deepEqual(await list.call("#GETVALUE"), [1, 2]);
  assert.equal(await manager.numberOfObjects(), 3);
  await got.close();
  await shelf.close();
  assert.equal(await manager.numberOfObjects(), 2);
  await d.close();
  await list.close();
});

Deno.test("Manager: Python's SyncManager gets proxies from a Deno Manager", async () => {
  await using manager = new Manager({ authkey: KEY });
  await manager.start();
  const { code, stdout } = await new Deno.Command("python3", {
    args: [
      "-c",
      `
import sys, multiprocessing
from multiprocessing.managers import SyncManager
# Proxies read from a message authenticate with the process's key.
multiprocessing.current_process().authkey = sys.argv[2].encode()
m = SyncManager(address=sys.argv[1], authkey=sys.argv[2].encode())
m.connect()
d = m.dict()
inner = m.list([1])
d["k"] = inner
d["k"].append(2)
print(list(inner), list(iter(d)), list(d["k"]), m._number_of_objects(), sep=";")
`,
      manager.address as string,
      KEY,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  assert.equal(
    new TextDecoder().decode(stdout).trim(),
    "[1, 2];['k'];[1, 2];2",
  );
  // The Python program ended: its references were given back.
  await objectsBecome(manager, 0);
});

Deno.test("Manager: calls of the starting thread run side by side: a waiting get holds up no other call", async () => {
  await using manager = new Manager();
  await manager.start();
  const queue = await manager.Queue<string>();
  const d = await manager.dict<string, number>();
  const waiting = queue.get();
  for (let i = 0; i < 50; i++) {
    await d.set("k", i);
    assert.equal(await d.get("k"), i);
  }
  // Another handle to the same queue, so that the put is not queued
  // behind the get on one handle.
  const holder = await manager.list([queue]);
  const again = await holder.at(0) as SharedObject;
  await again.call("put", ["item"]);
  assert.equal(await waiting, "item");
  await again.close();
});

Deno.test("Manager: a call waiting when the manager shuts down rejects", async () => {
  const manager = new Manager();
  await manager.start();
  const queue = await manager.Queue<string>();
  const waiting = assert.rejects(queue.get(), ProcessError);
  // Sure to be waiting on the server: an answer to a later call came.
  assert.equal(await (await manager.dict()).size(), 0);
  await manager.shutdown();
  await waiting;
  await assert.rejects(queue.qsize(), ProcessError);
});

Deno.test("Manager: an answer that cannot be pickled is an error, and the handle goes on", async () => {
  const source =
    "export function makeOdd() { return { fn() { return () => 1; }, one() { return 1; } }; }";
  const module = `data:text/javascript,${encodeURIComponent(source)}`;
  await using manager = new Manager();
  manager.register("Odd", { module, export: "makeOdd" });
  await manager.start();
  const odd = await manager.create("Odd");
  await assert.rejects(odd.call("fn"), ProcessError);
  assert.equal(await odd.call("one"), 1);
});

Deno.test("Manager: a call waiting when the server fails rejects", async () => {
  const source = "export function makeFaulty() { return { fail() {" +
    " setTimeout(() => { throw new Error('boom'); }); } }; }";
  const module = `data:text/javascript,${encodeURIComponent(source)}`;
  await using manager = new Manager();
  manager.register("Faulty", { module, export: "makeFaulty" });
  await manager.start();
  const faulty = await manager.create("Faulty");
  const queue = await manager.Queue<string>();
  const waiting = assert.rejects(queue.get(), /server failed: .*boom/);
  await faulty.call("fail");
  await waiting;
});

Deno.test("Manager (worker): a Worker child reaches the server through shared memory, not its socket", async () => {
  await using manager = new Manager();
  await manager.start();
  const d = await manager.dict<string, number>();
  // No new connection can reach the server once its socket file is gone:
  // only a channel in shared memory can.
  await Deno.remove(manager.address as string);
  const p = startChild(TARGETS, "worker", "setKeys", [d, 1, 20]);
  try {
    await p.join();
  } finally {
    if (p.isAlive()) p.kill();
  }
  assert.equal(p.exitCode, 0);
  assert.equal(await d.size(), 20);
  assert.equal(await d.get("1:19"), 1019);
  assert.equal(await manager.numberOfObjects(), 1);
});

Deno.test("Manager (worker): many Worker children share a dict, and their channels and references go when they end", async () => {
  await using manager = new Manager();
  await manager.start();
  const d = await manager.dict<string, number>();
  const children = Array.from(
    { length: 12 },
    (_, child) => startChild(TARGETS, "worker", "setKeys", [d, child, 10]),
  );
  try {
    for (const p of children) await p.join();
  } finally {
    for (const p of children) if (p.isAlive()) p.kill();
  }
  assert.deepEqual(children.map((p) => p.exitCode), Array(12).fill(0));
  assert.equal(await d.size(), 120);
  for (let child = 0; child < 12; child++) {
    assert.equal(await d.get(`${child}:9`), child * 1000 + 9);
  }
  // Each child closed its handle: only the parent's reference is left.
  assert.equal(await manager.numberOfObjects(), 1);
  await d.close();
  assert.equal(await manager.numberOfObjects(), 0);
});

for (const backend of BACKENDS) {
  Deno.test(`Manager (${backend}): a child passes a handle on to a Worker grandchild`, async () => {
    await using manager = new Manager();
    await manager.start();
    const d = await manager.dict<string, number>();
    const children = [1, 2].map((child) =>
      startChild(TARGETS, backend, "setKeysWithGrandchild", [
        d,
        "worker",
        child,
        10,
      ])
    );
    try {
      for (const p of children) await p.join();
    } finally {
      for (const p of children) if (p.isAlive()) p.kill();
    }
    assert.deepEqual(children.map((p) => p.exitCode), [0, 0]);
    assert.equal(await d.size(), 40);
    for (const child of [1, 2, 101, 102]) {
      assert.equal(await d.get(`${child}:9`), child * 1000 + 9);
    }
    await objectsBecome(manager, 1);
  });

  Deno.test(`Manager (${backend}): a child killed mid-call gives back its references, and the server goes on`, async () => {
    await using manager = new Manager();
    await manager.start();
    const d = await manager.dict<string, number>();
    const started = await manager.Event();
    const event = await manager.Event();
    const caller = startChild(TARGETS, backend, "callUntilKilled", [
      d,
      started,
    ]);
    // This one waits on the server for the event when it is killed.
    const [reader, writer] = Pipe<unknown>({ duplex: false });
    const waiting = await manager.Event();
    const waiter = startChild(TARGETS, backend, "reportWait", [
      event,
      waiting,
      writer,
    ]);
    try {
      assert.equal(await started.wait(30_000), true);
      assert.equal(await waiting.wait(30_000), true);
      // The children hold their own references: closing ours keeps them.
      await d.close();
      await started.close();
      assert.equal(await manager.numberOfObjects(), 4);
      caller.kill();
      waiter.kill();
      await caller.join();
      await waiter.join();
      // d and started went with the children's references.
      await objectsBecome(manager, 2);
      // The wait of the dead child ends with no one to answer.
      await event.set();
      assert.equal(await event.wait(), true);
      const again = await manager.dict<string, number>({ a: 1 });
      assert.equal(await again.get("a"), 1);
    } finally {
      for (const p of [caller, waiter]) if (p.isAlive()) p.kill();
      reader.close();
      writer.close();
    }
  });

  Deno.test(`Manager (${backend}): a child's call waiting when the manager shuts down rejects`, async () => {
    const manager = new Manager();
    await manager.start();
    const event = await manager.Event();
    const waiting = await manager.Event();
    const [reader, writer] = Pipe<
      { processError: boolean; message: string }
    >({ duplex: false });
    const p = startChild(TARGETS, backend, "reportWait", [
      event,
      waiting,
      writer,
    ]);
    try {
      assert.equal(await waiting.wait(30_000), true);
      await manager.shutdown();
      const { processError } = await reader.recv();
      assert.equal(processError, true);
      await p.join();
      assert.equal(p.exitCode, 0);
    } finally {
      if (p.isAlive()) p.kill();
      reader.close();
      writer.close();
      await manager.shutdown();
    }
  });
}

Deno.test("Manager (worker): pool tasks on Workers use a handle each", async () => {
  await using manager = new Manager();
  await manager.start();
  const d = await manager.dict<string, number>();
  const items = Array.from({ length: 20 }, (_, i) => i);
  {
    await using pool = new Pool({ backend: "worker", processes: 2 });
    const squares = await pool.starmap(
      { module: TARGETS.href, export: "storeItem" },
      items.map((item) => [d, item]),
      { chunksize: 1 },
    );
    assert.deepEqual(squares, items.map((item) => item * item));
  }
  assert.equal(await d.size(), 20);
  // The workers ended with the pool: their references went with them.
  await objectsBecome(manager, 1);
});

Deno.test("Manager (worker): a Manager started in a Worker child serves that child's own Worker child", async () => {
  const [reader, writer] = Pipe<Record<string, number>>({ duplex: false });
  const p = startChild(TARGETS, "worker", "managerInChild", [writer]);
  try {
    assert.deepEqual(await reader.recv(), {
      "7:0": 7000,
      "7:1": 7001,
      "7:2": 7002,
      "7:3": 7003,
      "7:4": 7004,
    });
    await p.join();
    assert.equal(p.exitCode, 0);
  } finally {
    if (p.isAlive()) p.kill();
    reader.close();
    writer.close();
  }
});
