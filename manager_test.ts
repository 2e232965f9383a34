// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A Deno client of a real Python BaseManager serving a queue.Queue: the
// server and a Python client are started by each test and killed in
// `finally`; nothing listens beyond loopback.
import assert from "node:assert/strict";
import { BaseManager, Manager } from "./manager.ts";
import { AuthenticationError, Empty, Full, ProcessError } from "./errors.ts";
import { BACKENDS, startChild } from "./_test_util.ts";

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

/** The server, killed when disposed. */
async function startServer(where: string) {
  const child = new Deno.Command("python3", {
    args: ["-c", SERVER, where, KEY],
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
