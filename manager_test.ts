// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A Deno client of a real Python BaseManager serving a queue.Queue: the
// server and a Python client are started by each test and killed in
// `finally`; nothing listens beyond loopback.
import assert from "node:assert/strict";
import { BaseManager } from "./manager.ts";
import { AuthenticationError, Empty, ProcessError } from "./errors.ts";

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

Deno.test("manager: a released handle refuses calls", async () => {
  await using server = await startServer("0");
  const manager = new BaseManager({ address: server.address, authkey: KEY });
  const queue = await manager.create("get_queue");
  await queue.release();
  await queue.release();
  await assert.rejects(queue.call("qsize"), /released/);
});
