// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Measures the cluster entry point beside the local backends, in one run on
// this machine: a NATS server and three agents on loopback, started here and
// stopped at the end. Numbers for the README; never a test.
// Usage: deno run -A testdata/cluster_measure.ts
import { connectCluster } from "../cluster.ts";
import { Lock, Pool, Queue } from "../mod.ts";
import { Agent, freshNamespace, startServer } from "./cluster_servers.ts";

const square = {
  module: new URL("./cluster_targets.ts", import.meta.url).href,
  export: "square",
};

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function row(name: string, value: string) {
  console.log(`${name.padEnd(58)} ${value}`);
}

const TASKS = 60_000;
const CHUNK = 1000;
const items = Array.from({ length: TASKS }, (_, i) => i);
const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");

await using servers = await startServer();
const namespace = freshNamespace();
const agents = [1, 2, 3].map(() => new Agent(servers, namespace, 1));
try {
  await Promise.all(agents.map((agent) => agent.waitFor("agent ready")));
  await using cluster = await connectCluster({
    servers: servers.urls,
    token: servers.token,
    namespace,
  });
  await using pool = new cluster.Pool();
  await pool.map(square, items.slice(0, 3000), { chunksize: 100 }); // warm
  const clusterMs = await time(() =>
    pool.map(square, items, { chunksize: CHUNK })
  );
  const few = items.slice(0, 300);
  const oneByOneMs = await time(() => pool.map(square, few, { chunksize: 1 }));
  let sequentialMs = 0;
  for (let i = 0; i < 50; i++) {
    sequentialMs += await time(() => pool.apply(square, [i] as never));
  }

  await using local = new Pool({ processes: 3, backend: "worker" });
  await local.map(square, items.slice(0, 3000), { chunksize: 100 });
  const localMs = await time(() =>
    local.map(square, items, { chunksize: CHUNK })
  );
  const localOneMs = await time(() => local.map(square, few, { chunksize: 1 }));

  console.log(`load average before: ${load()}`);
  row(
    `Pool.map ${TASKS} tiny tasks, chunks of ${CHUNK}, 3 agents x 1 worker`,
    `${(TASKS / clusterMs * 1000).toFixed(0)} tasks/s (${
      (TASKS / clusterMs * 1000 / 3).toFixed(0)
    } per agent)`,
  );
  row(
    `  local Pool, 3 Workers, same call`,
    `${(TASKS / localMs * 1000).toFixed(0)} tasks/s`,
  );
  row(
    `Pool.map 300 tasks, chunks of 1, 3 agents`,
    `${(oneByOneMs / 300 * 1000).toFixed(0)} µs per task`,
  );
  row(
    `  local Pool, same call`,
    `${(localOneMs / 300 * 1000).toFixed(0)} µs per task`,
  );
  row(
    `Pool.apply one at a time (round trip)`,
    `${(sequentialMs / 50).toFixed(2)} ms`,
  );

  const queue = new cluster.Queue<number>("measure");
  const N = 2000;
  const putMs = await time(async () => {
    for (let i = 0; i < N; i += 200) {
      await Promise.all(items.slice(i, i + 200).map((x) => queue.put(x)));
    }
  });
  const getMs = await time(async () => {
    for (let i = 0; i < N; i++) await queue.get();
  });
  const localQueue = new Queue<number>();
  const localQMs = await time(async () => {
    for (let i = 0; i < N; i++) await localQueue.put(i);
    for (let i = 0; i < N; i++) await localQueue.get();
  });
  row(
    `Queue.put, ${N} items, 200 at a time`,
    `${(N / putMs * 1000).toFixed(0)} items/s`,
  );
  row(
    `Queue.get, one getter, one at a time`,
    `${(N / getMs * 1000).toFixed(0)} items/s`,
  );
  row(
    `  local Queue, put then get, one at a time`,
    `${(2 * N / localQMs * 1000).toFixed(0)} ops/s`,
  );

  const lock = new cluster.Lock("measure");
  let lockMs = 0;
  for (let i = 0; i < 100; i++) {
    lockMs += await time(async () => {
      await lock.acquire();
      await lock.release();
    });
  }
  const localLock = new Lock();
  const localLockMs = await time(async () => {
    for (let i = 0; i < 10_000; i++) {
      await localLock.acquire();
      localLock.release();
    }
  });
  row(
    `Lock acquire + release (lease in the key-value store)`,
    `${(lockMs / 100).toFixed(2)} ms`,
  );
  row(
    `  local Lock acquire + release`,
    `${(localLockMs / 10_000 * 1000).toFixed(2)} µs`,
  );
  console.log(`load average after: ${load()}`);
} finally {
  for (const agent of agents) await agent[Symbol.asyncDispose]();
}
