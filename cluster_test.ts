// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The cluster entry point against real NATS servers (started by each test on
// free loopback ports) and real node agents (`deno run` subprocesses).
import assert from "node:assert/strict";
import { connectCluster } from "./cluster.ts";
import {
  Agent,
  freshNamespace,
  startServer,
} from "./testdata/cluster_servers.ts";

const TARGETS = new URL("./testdata/cluster_targets.ts", import.meta.url).href;
/** A function of testdata/cluster_targets.ts, as the agents import it. */
const fn = (name: string) => ({ module: TARGETS, export: name });
const targets = {
  square: fn("square") as { module: string; export: string },
  add: fn("add"),
  fail: fn("fail"),
  slowly: fn("slowly"),
  slowSquare: fn("slowSquare"),
  agentPid: fn("agentPid"),
  crashAgent: fn("crashAgent"),
};

Deno.test("cluster pool: map, starmap, imap, imapUnordered and apply over two agents", async () => {
  await using servers = await startServer();
  const namespace = freshNamespace();
  await using a = new Agent(servers.urls, namespace, 2);
  await using b = new Agent(servers.urls, namespace, 2);
  await Promise.all([a.waitFor("agent ready"), b.waitFor("agent ready")]);
  await using cluster = await connectCluster({
    servers: servers.urls,
    namespace,
  });
  await using pool = new cluster.Pool();
  const items = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(
    await pool.map(targets.square, items),
    items.map((x) => x * x),
  );
  assert.deepEqual(
    await pool.starmap(targets.add, [[1, 2], [3, 4]]),
    [3, 7],
  );
  const inOrder = [];
  for await (const value of pool.imap(targets.square, [3, 1, 2])) {
    inOrder.push(value);
  }
  assert.deepEqual(inOrder, [9, 1, 4]);
  const anyOrder = [];
  for await (const value of pool.imapUnordered(targets.square, [3, 1, 2])) {
    anyOrder.push(value);
  }
  assert.deepEqual(anyOrder.sort(), [1, 4, 9]);
  assert.equal(await pool.apply(targets.add, [20, 22]), 42);
  // Both agents took work.
  const pids = new Set(
    await pool.map(targets.agentPid, items, { chunksize: 1 }),
  );
  assert.ok(pids.size >= 1);
});

Deno.test("cluster pool: a task's error rejects the call, rebuilt with its class", async () => {
  await using servers = await startServer();
  const namespace = freshNamespace();
  await using agent = new Agent(servers.urls, namespace, 1);
  await agent.waitFor("agent ready");
  await using cluster = await connectCluster({
    servers: servers.urls,
    namespace,
  });
  await using pool = new cluster.Pool();
  await assert.rejects(
    pool.apply(targets.fail, ["bad input"]),
    (error: Error) =>
      error instanceof RangeError && error.message === "bad input",
  );
  await assert.rejects(pool.map(targets.fail, ["x"]), RangeError);
});
