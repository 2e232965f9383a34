// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The cluster entry point against real NATS servers (started by each test on
// free loopback ports) and real node agents (`deno run` subprocesses).
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  type Cluster,
  type ClusterPool,
  type ClusterPoolOptions,
  connectCluster,
} from "./cluster.ts";
import {
  AuthenticationError,
  BrokenBarrierError,
  Empty,
  Full,
  ProcessError,
} from "./errors.ts";
import { parseAgentArgs, runAgent } from "./_cluster/agent.ts";
import {
  Agent,
  freshNamespace,
  requireServer,
  type Servers,
  startCluster,
  startServer,
} from "./testdata/cluster_servers.ts";
import * as real from "./testdata/cluster_targets.ts";

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
  forever: fn("forever"),
  putFromTask: fn("putFromTask"),
};

/** A connection to `namespace` on `servers`, with their token. */
function connectTo(servers: Servers, namespace: string): Promise<Cluster> {
  return connectCluster({
    servers: servers.urls,
    token: servers.token,
    namespace,
  });
}

/** What {@linkcode clusterFixture} started, ended in reverse order. */
interface ClusterFixture extends AsyncDisposable {
  servers: Servers;
  /** A namespace no other test uses. */
  namespace: string;
  /** Its agents, each ready. */
  agents: Agent[];
  cluster: Cluster;
  /** The pool (throws when the fixture made none). */
  readonly pool: ClusterPool;
}

/**
 * Starts one server, a fresh namespace, `agents` node agents of
 * `processes` each (waiting until each says "agent ready"), a connection,
 * and, when there are agents, a pool (`pool: false` for none).
 */
async function clusterFixture(
  options: {
    agents?: number;
    processes?: number;
    pool?: ClusterPoolOptions | false;
  } = {},
): Promise<ClusterFixture> {
  const { agents: count = 0, processes = 1 } = options;
  await using stack = new AsyncDisposableStack();
  const servers = stack.use(await startServer());
  const namespace = freshNamespace();
  const agents = Array.from(
    { length: count },
    () => stack.use(new Agent(servers, namespace, processes)),
  );
  await Promise.all(agents.map((agent) => agent.waitFor("agent ready")));
  const cluster = stack.use(await connectTo(servers, namespace));
  const pool = count > 0 && options.pool !== false
    ? stack.use(new cluster.Pool(options.pool))
    : undefined;
  // Set up: from here the caller's `await using` ends it all.
  const owned = stack.move();
  return {
    servers,
    namespace,
    agents,
    cluster,
    get pool(): ClusterPool {
      if (!pool) throw new TypeError("This fixture has no pool");
      return pool;
    },
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

Deno.test("cluster pool: map, starmap, imap, imapUnordered and apply over two agents", async () => {
  await using fixture = await clusterFixture({ agents: 2, processes: 2 });
  const { pool } = fixture;
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

Deno.test("cluster pool: a task joins its agent's namespace with connectCluster() and no options", async () => {
  await using fixture = await clusterFixture({ agents: 1 });
  const { namespace, cluster, pool } = fixture;
  assert.equal(await pool.apply(targets.putFromTask, ["hello"]), namespace);
  assert.equal(
    await new cluster.Queue("fromtask").get({ timeout: 5000 }),
    "hello",
  );
});

/** Not exported: no agent can import it. */
function hidden(x: number): number {
  return x;
}

Deno.test("cluster pool and process: a function imported from the module that exports it is named by that module", async () => {
  await using fixture = await clusterFixture({ agents: 1 });
  const { cluster, pool } = fixture;
  assert.deepEqual(await pool.map(real.square, [1, 2, 3]), [1, 4, 9]);
  assert.equal(await pool.apply(real.add, [2, 3]), 5);
  const child = new cluster.Process({ target: real.add, args: [1, 1] });
  await child.start();
  assert.equal(await child.join(), 0);
  await assert.rejects(
    pool.map(hidden, [1]),
    /Cannot tell which module exports the pool's task function "hidden"/,
  );
});

Deno.test("cluster pool: a task's error rejects the call, rebuilt with its class", async () => {
  await using fixture = await clusterFixture({ agents: 1 });
  const { pool } = fixture;
  await assert.rejects(
    pool.apply(targets.fail, ["bad input"]),
    (error: Error) =>
      error instanceof RangeError && error.message === "bad input",
  );
  await assert.rejects(pool.map(targets.fail, ["x"]), RangeError);
});

/** Sends a signal to a child, which may have ended already. */
function send(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Ended.
  }
}

/** Waits until `check` says yes, or fails after `within` ms. */
async function until(
  check: () => Promise<boolean> | boolean,
  within: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + within;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How many messages a stream of the namespace holds now. */
async function streamMessages(
  servers: Servers,
  stream: string,
): Promise<number> {
  const nc = await connect({ servers: servers.urls, token: servers.token });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

Deno.test("cluster pool: kill -9 one of three agents mid-map; every result once, in order", async () => {
  await using fixture = await clusterFixture({ agents: 3, processes: 2 });
  const { pool, agents: [, b] } = fixture;
  const items = Array.from({ length: 300 }, (_, i) => i);
  const results: number[] = [];
  for await (
    const value of pool.imap(targets.slowSquare, items, { chunksize: 5 })
  ) {
    results.push(value as number);
    // Mid-map: every agent holds chunks now.
    if (results.length === 30) b.kill("SIGKILL");
  }
  assert.equal((await b.child.status).signal, "SIGKILL");
  assert.deepEqual(results, items.map((x) => x * x));
});

Deno.test("cluster pool: a task whose agent dies on each delivery fails after its attempts", async () => {
  await using fixture = await clusterFixture({
    agents: 2,
    pool: { attempts: 1 },
  });
  const { pool, agents: [a, b] } = fixture;
  await assert.rejects(
    pool.apply(targets.crashAgent, []),
    (error: Error) =>
      error.name === "ProcessError" &&
      /delivered 1 times and each time its node agent ended/.test(
        error.message,
      ),
  );
  // One agent died running it; the other answered without running it.
  const statuses = await Promise.race([a.child.status, b.child.status]);
  assert.equal(statuses.signal, "SIGKILL");
  assert.equal(await pool.apply(targets.add, [1, 2]), 3);
});

Deno.test("cluster pool: aborting a call drops the tasks no agent started", async () => {
  await using fixture = await clusterFixture({ agents: 1 });
  const { servers, namespace, pool } = fixture;
  const controller = new AbortController();
  const reason = new Error("enough");
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      const items = Array.from({ length: 20 }, (_, i) => [i, 200]);
      for await (
        const value of pool.imap(
          { module: TARGETS, export: "slowlyPair" },
          items,
          { signal: controller.signal },
        )
      ) {
        seen.push(value as number);
        controller.abort(reason);
      }
    })(),
    (error) => error === reason,
  );
  assert.deepEqual(seen, [0]);
  const tasks = `MP_${namespace}_TASKS`;
  // What the agent held when the call was aborted ends; nothing else runs.
  await until(
    async () => await streamMessages(servers, tasks) === 0,
    10_000,
    "the tasks stream to empty",
  );
  const ran = await streamMessages(servers, `MP_${namespace}_RESULTS`);
  assert.ok(ran < 20, `${ran} of 20 tasks ran after the abort`);
  assert.ok(ran <= 1 + 2, `${ran} tasks ran: more than the agent held`);
});

Deno.test("cluster queue: put, get, qsize, getNowait and Empty, Full, close", async () => {
  await using fixture = await clusterFixture();
  const { cluster } = fixture;
  const queue = new cluster.Queue<{ n: number; at: Date }>("jobs");
  const other = new cluster.Queue<{ n: number; at: Date }>("jobs");
  await queue.put({ n: 1, at: new Date(5) });
  await queue.put({ n: 2, at: new Date(6) });
  assert.equal(await other.qsize(), 2);
  assert.deepEqual(await other.get(), { n: 1, at: new Date(5) });
  assert.deepEqual(await other.getNowait(), { n: 2, at: new Date(6) });
  assert.equal(await queue.empty(), true);
  await assert.rejects(queue.getNowait(), Empty);
  await assert.rejects(queue.get({ timeout: 100 }), Empty);
  const small = new cluster.Queue<number>("small", { maxsize: 1 });
  await small.put(1);
  assert.equal(await small.full(), true);
  await assert.rejects(small.putNowait(2), Full);
  await assert.rejects(small.put(2, { timeout: 100 }), Full);
  assert.equal(await small.get(), 1);
  await small.put(2);
  assert.equal(await small.get(), 2);
  small.close();
  await assert.rejects(small.put(3), /closed/);
});

Deno.test("cluster queue: each item goes to exactly one of many getters", async () => {
  await using fixture = await clusterFixture();
  const { servers, namespace, cluster } = fixture;
  const queue = new cluster.Queue<number>("work");
  const items = Array.from({ length: 200 }, (_, i) => i);
  await Promise.all(items.map((i) => queue.put(i)));
  await using other = await connectTo(servers, namespace);
  const getters = [cluster, other, cluster, other].map((c) =>
    new c.Queue<number>("work")
  );
  const got: number[] = [];
  await Promise.all(getters.map(async (getter) => {
    while (true) {
      try {
        got.push(await getter.getNowait());
      } catch (error) {
        if (error instanceof Empty) return;
        throw error;
      }
    }
  }));
  assert.deepEqual(got.sort((a, b) => a - b), items);
});

Deno.test("cluster queue: a put retried with the same message id is stored once", async () => {
  await using fixture = await clusterFixture();
  const { servers, namespace, cluster } = fixture;
  const queue = new cluster.Queue<string>("once");
  await queue.put("only");
  // Resend the stored message as it was sent, id and all: what a put
  // does after a lost reply.
  const nc = await connect({ servers: servers.urls, token: servers.token });
  try {
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage(`MP_${namespace}_Q_once`, {
      seq: 1,
    });
    assert.ok(stored?.header.get("Nats-Msg-Id"));
    const js = jetstream(nc);
    const ack = await js.publish(stored!.subject, stored!.data, {
      msgID: stored!.header.get("Nats-Msg-Id"),
    });
    assert.equal(ack.duplicate, true);
  } finally {
    await nc.close();
  }
  assert.equal(await queue.qsize(), 1);
  assert.equal(await queue.get(), "only");
  await assert.rejects(queue.getNowait(), Empty);
});

/**
 * Runs `testdata/<script>` as a client of the fixture's namespace (`deno run
 * <script> <servers> <namespace> ...args`, the token in its environment),
 * its stdout piped.
 */
function spawnClient(
  { servers, namespace }: ClusterFixture,
  script: string,
  args: string[],
  stdin: "piped" | "inherit" = "inherit",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL(`./testdata/${script}`, import.meta.url).href,
      servers.urls.join(","),
      namespace,
      ...args,
    ],
    stdin,
    env: { MP_CLUSTER_TOKEN: servers.token },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

Deno.test("cluster queue: an item whose getter dies before taskDone() is delivered again", async () => {
  await using fixture = await clusterFixture();
  const { cluster } = fixture;
  const queue = new cluster.JoinableQueue<string>("tasks");
  await queue.put("precious");
  const getter = spawnClient(fixture, "cluster_getter.ts", ["tasks"]);
  try {
    const reader = getter.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const { value } = await reader.read();
    assert.equal(value?.trim(), 'got "precious"');
    reader.releaseLock();
    // Taken: no one else gets it while its getter lives.
    await assert.rejects(queue.getNowait(), Empty);
    assert.equal(await queue.join(0), false);
  } finally {
    send(getter, "SIGKILL");
    await getter.status;
    await getter.stdout.cancel().catch(() => {});
  }
  assert.equal(await queue.get({ timeout: 20_000 }), "precious");
  await queue.taskDone();
  assert.equal(await queue.join(5000), true);
  await assert.rejects(queue.taskDone(), RangeError);
});

Deno.test("cluster queue: a program that got an item and closed its connection ends by itself, and the item is delivered again", async () => {
  await using fixture = await clusterFixture();
  const { cluster } = fixture;
  const queue = new cluster.JoinableQueue<string>("tasks");
  await queue.put("kept");
  const getter = spawnClient(fixture, "cluster_getter.ts", ["tasks", "close"]);
  // The item's "still working" timer must not hold the program's event
  // loop: were it ref'd, the program would never end (killed at the limit).
  const limit = setTimeout(() => send(getter, "SIGKILL"), 30_000);
  try {
    const output = await new Response(getter.stdout).text();
    assert.equal(output.trim(), 'got "kept"');
    const status = await getter.status;
    assert.equal(status.signal, null, "the getter had to be killed");
    assert.equal(status.code, 0);
  } finally {
    clearTimeout(limit);
    send(getter, "SIGKILL");
    await getter.status;
  }
  assert.equal(await queue.get({ timeout: 20_000 }), "kept");
  await queue.taskDone();
});

Deno.test("cluster queue: kill the only server and restart it on the same store; items survive", async () => {
  await using fixture = await clusterFixture();
  const { servers, cluster } = fixture;
  const queue = new cluster.Queue<number>("durable");
  for (const n of [1, 2, 3]) await queue.put(n);
  const [node] = servers.nodes;
  await node.stop("SIGKILL");
  node.start();
  // The same client reconnects by itself.
  assert.equal(await queue.get({ timeout: 30_000 }), 1);
  await queue.put(4);
  assert.deepEqual(
    [await queue.get(), await queue.get(), await queue.get()],
    [2, 3, 4],
  );
});

Deno.test("cluster lock: one holder at a time, growing tokens, RangeError when not held", async () => {
  await using fixture = await clusterFixture();
  const { cluster } = fixture;
  const a = new cluster.Lock("db", { lease: 2000 });
  const b = new cluster.Lock("db", { lease: 2000 });
  assert.equal(await a.locked(), false);
  assert.equal(await a.acquire(), true);
  const first = a.token!;
  assert.ok(first > 0);
  assert.equal(await b.locked(), true);
  assert.equal(await b.acquire({ blocking: false }), false);
  assert.equal(await b.acquire({ timeout: 100 }), false);
  const waiting = b.acquire();
  await a.release();
  assert.equal(a.token, undefined);
  assert.equal(await waiting, true);
  assert.ok(b.token! > first);
  await assert.rejects(a.release(), RangeError);
  await b.release();
  // Held past several leases: the holder renews it.
  {
    await using held = new cluster.Lock("long", { lease: 1500 });
    await held.acquire();
    const other = new cluster.Lock("long", { lease: 1500 });
    assert.equal(await other.acquire({ timeout: 4500 }), false);
    assert.equal(held.lost, false);
  }
  assert.equal(await new cluster.Lock("long").locked(), false);
  // Re-entrant: counted per handle.
  const r = new cluster.RLock("re", { lease: 2000 });
  await r.acquire();
  await r.acquire();
  await r.release();
  assert.equal(await r.locked(), true);
  await r.release();
  assert.equal(await r.locked(), false);
  await assert.rejects(r.release(), RangeError);
});

Deno.test("cluster lock: a holder stopped past its lease loses the lock; its late release is refused", async () => {
  await using fixture = await clusterFixture();
  const { cluster } = fixture;
  const holder = spawnClient(
    fixture,
    "cluster_locker.ts",
    ["shared", "1000"],
    "piped",
  );
  const lines = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = holder.stdin.getWriter();
  try {
    const held = (await lines.read()).value ?? "";
    const token = Number(/held (\d+)/.exec(held)?.[1]);
    assert.ok(token > 0, held);
    holder.kill("SIGSTOP");
    const lock = new cluster.Lock("shared", { lease: 1000 });
    assert.equal(await lock.acquire({ timeout: 20_000 }), true);
    assert.ok(lock.token! > token);
    holder.kill("SIGCONT");
    await writer.write(new TextEncoder().encode("release\n"));
    const answer = (await lines.read()).value ?? "";
    assert.match(
      answer,
      /^refused: ProcessError: Cannot release the lock shared: its lease/,
    );
    // The refused release left the new holder's lease alone.
    assert.equal(await lock.locked(), true);
    await lock.release();
  } finally {
    send(holder, "SIGKILL");
    await holder.status;
    await writer.close().catch(() => {});
    await lines.cancel().catch(() => {});
  }
});

Deno.test("cluster process: exitCode, the child's error rebuilt, join(timeout), terminate()", async () => {
  await using fixture = await clusterFixture({ agents: 1, pool: false });
  const { cluster } = fixture;
  const ok = new cluster.Process({ target: targets.add, args: [1, 2] });
  await assert.rejects(ok.join(), /never started/);
  await ok.start();
  assert.equal(await ok.join(), 0);
  assert.equal(ok.exitCode, 0);
  assert.equal(ok.error, undefined);
  assert.throws(() => ok.start(), /twice/);

  const failing = new cluster.Process({ target: targets.fail, args: ["no"] });
  failing.start();
  assert.equal(await failing.join(), 1);
  assert.ok(failing.error instanceof RangeError);
  assert.equal(failing.error.message, "no");

  const endless = new cluster.Process({
    target: targets.forever,
    name: "endless",
  });
  await endless.start();
  assert.equal(await endless.join(200), null);
  assert.equal(endless.isAlive(), true);
  endless.terminate();
  assert.equal(await endless.join(), -15);
  assert.equal(endless.isAlive(), false);
});

Deno.test("cluster process: a child whose agent is killed ends too; join() does not hang", async () => {
  await using fixture = await clusterFixture({ agents: 1, pool: false });
  const { cluster, agents: [agent] } = fixture;
  const child = new cluster.Process({ target: targets.forever });
  await child.start();
  await until(() => child.pid !== undefined, 10_000, "the child to run");
  agent.kill("SIGKILL");
  assert.equal(await child.join(20_000), -9);
  assert.equal(child.error?.name, "ProcessError");
  assert.match(child.error!.message, /stopped answering/);
});

Deno.test("cluster event, semaphore, barrier and value across connections", async () => {
  await using fixture = await clusterFixture();
  const { servers, namespace, cluster: one } = fixture;
  await using two = await connectTo(servers, namespace);

  const event = new one.Event("go");
  assert.equal(await event.isSet(), false);
  assert.equal(await event.wait(50), false);
  const waiting = new two.Event("go").wait(10_000);
  await event.set();
  assert.equal(await waiting, true);
  await event.clear();
  assert.equal(await new two.Event("go").isSet(), false);

  const semaphore = new one.Semaphore("slots", { value: 2 });
  const other = new two.Semaphore("slots", { value: 2 });
  assert.equal(await semaphore.acquire(), true);
  assert.equal(await other.acquire(), true);
  assert.equal(await other.getValue(), 0);
  assert.equal(await other.acquire({ blocking: false }), false);
  assert.equal(await other.acquire({ timeout: 50 }), false);
  const third = other.acquire({ timeout: 10_000 });
  await semaphore.release();
  assert.equal(await third, true);
  await semaphore.release(2);
  assert.equal(await other.getValue(), 2);

  const parties = [one, two, one].map((c) => new c.Barrier("meet", 3));
  const indexes = await Promise.all(
    parties.map((barrier) => barrier.wait(10_000)),
  );
  assert.deepEqual(indexes.sort(), [0, 1, 2]);
  await assert.rejects(
    new one.Barrier("alone", 2).wait(50),
    BrokenBarrierError,
  );
  assert.equal(await new two.Barrier("alone", 2).broken(), true);
  await new two.Barrier("alone", 2).reset();
  assert.equal(await new one.Barrier("alone", 2).broken(), false);

  const total = new one.Value("total", 0);
  assert.equal(await total.get(), 0);
  await Promise.all(
    Array.from(
      { length: 10 },
      (_, i) =>
        new (i % 2 ? one : two).Value("total", 0).update((n: number) => n + 1),
    ),
  );
  assert.equal(await new two.Value("total", 0).get(), 10);
  await total.set(new Map([["a", 1]]) as unknown as number);
  assert.deepEqual(await total.get(), new Map([["a", 1]]));
});

Deno.test("cluster pool: kill the tasks stream's leader of a 3-node cluster mid-map; the map completes", async () => {
  await using servers = await startCluster();
  const namespace = freshNamespace();
  const urls = servers.urls;
  await using a = new Agent(servers, namespace, 2, ["--replicas", "3"]);
  await using b = new Agent(servers, namespace, 2, ["--replicas", "3"]);
  await Promise.all([a.waitFor("agent ready"), b.waitFor("agent ready")]);
  await using cluster = await connectCluster({
    servers: urls,
    token: servers.token,
    namespace,
    replicas: 3,
  });
  await using pool = new cluster.Pool();
  const items = Array.from({ length: 300 }, (_, i) => i);
  const results: number[] = [];
  let killed = "";
  // A hang fails, saying what the agents and servers said.
  const stuck = new AbortController();
  const timer = setTimeout(() =>
    stuck.abort(
      new Error(
        `The map did not complete in 120 s (${results.length} results); agents:\n${a.output}\n${b.output}\nservers:\n${
          servers.nodes.map((node) =>
            node.log.split("\n").filter((l) => !l.includes("connect to route"))
              .slice(-40).join("\n")
          ).join("\n")
        }`,
      ),
    ), 120_000);
  using _timer = { [Symbol.dispose]: () => clearTimeout(timer) };
  for await (
    const value of pool.imap(targets.slowSquare, items, {
      chunksize: 5,
      signal: stuck.signal,
    })
  ) {
    results.push(value as number);
    if (results.length === 30) {
      const nc = await connect({ servers: urls, token: servers.token });
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(`MP_${namespace}_TASKS`);
        assert.equal(info.config.num_replicas, 3);
        killed = info.cluster?.leader ?? "";
      } finally {
        await nc.close();
      }
      const leader = servers.nodes.find((node) => node.name === killed);
      assert.ok(leader, `no node named ${killed}`);
      await leader.stop("SIGKILL");
    }
  }
  assert.ok(killed);
  assert.deepEqual(results, items.map((x) => x * x));
});

Deno.test("cluster auth: a client with a wrong token or none is refused, saying what to pass", async () => {
  await using servers = await startServer();
  const namespace = freshNamespace();
  for (const token of ["wrong", undefined]) {
    const error = await connectCluster({
      servers: servers.urls,
      namespace,
      token,
    }).then(
      async (cluster) => {
        await cluster.close();
        return undefined;
      },
      (error) => error,
    );
    assert.ok(
      error instanceof AuthenticationError,
      `token ${token}: ${error}`,
    );
    assert.match(
      error.message,
      /refused .*: pass the right token or user and pass, or set MP_CLUSTER_TOKEN/,
    );
  }
  await using cluster = await connectCluster({
    servers: servers.urls,
    namespace,
    token: servers.token,
  });
  const value = new cluster.Value("v", 1);
  assert.equal(await value.get(), 1);
});

Deno.test("cluster auth: a token in MP_CLUSTER_TOKEN is used when none is given", async () => {
  await using servers = await startServer();
  Deno.env.set("MP_CLUSTER_TOKEN", servers.token);
  try {
    await using cluster = await connectCluster({
      servers: servers.urls,
      namespace: freshNamespace(),
    });
    assert.equal(await new cluster.Value("v", 2).get(), 2);
  } finally {
    Deno.env.delete("MP_CLUSTER_TOKEN");
  }
});

Deno.test("cluster auth: an agent without the token cannot take work", async () => {
  await using servers = await startServer();
  const namespace = freshNamespace();
  await using stranger = new Agent(servers.urls, namespace, 1);
  await assert.rejects(stranger.waitFor("agent ready"), /ended before/);
  const status = await stranger.child.status;
  assert.notEqual(status.code, 0);
  assert.match(stranger.output, /AuthenticationError/);
  assert.match(stranger.output, /MP_CLUSTER_TOKEN/);
});

Deno.test("cluster auth: a server off this machine without credentials is refused before any connection", async () => {
  const started = Date.now();
  for (const servers of ["nats://192.0.2.1:4222", "192.0.2.1:4222"]) {
    await assert.rejects(
      connectCluster({ servers, namespace: "x" }),
      (error: Error) =>
        error instanceof ProcessError &&
        /Cannot connect to .*192\.0\.2\.1:4222 without credentials: .*pass token or user and pass, or set MP_CLUSTER_TOKEN/
          .test(error.message),
    );
  }
  await assert.rejects(
    connectCluster({ servers: "nats://192.0.2.1:4222", user: "u" }),
    /user and pass go together/,
  );
  // Refused at once: the client never tried the unreachable address
  // (its connect timeout is 5 s).
  assert.ok(Date.now() - started < 4000);
});

Deno.test("cluster auth: the agent reads its token from --token-file, never from its command line", () => {
  const options = parseAgentArgs(["--token-file", "/etc/mp/token"]);
  assert.equal(options.tokenFile, "/etc/mp/token");
  assert.equal(options.token, undefined);
  assert.throws(
    () => parseAgentArgs(["--token", "secret"]),
    /Unknown option --token/,
  );
  assert.equal(
    parseAgentArgs(["--allow-unauthenticated"]).allowUnauthenticated,
    true,
  );
});

Deno.test("cluster auth: an agent with an empty token file says so before connecting", async () => {
  const empty = await Deno.makeTempFile();
  try {
    await assert.rejects(
      runAgent({
        ...parseAgentArgs(["--processes", "1"]),
        tokenFile: empty,
      }),
      (error: Error) =>
        error instanceof TypeError &&
        error.message.includes(`The token file ${empty} is empty`),
    );
  } finally {
    await Deno.remove(empty);
  }
});

Deno.test("cluster tests: without nats-server they fail, saying what to install", async () => {
  const path = Deno.env.get("PATH");
  const empty = await Deno.makeTempDir();
  Deno.env.set("PATH", empty);
  try {
    await assert.rejects(
      requireServer(),
      /nats-server is not installed or does not run; install it \(apt-get install -y nats-server\)/,
    );
  } finally {
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
    await Deno.remove(empty);
  }
});

Deno.test("cluster pool: a result that arrives twice is counted once", async () => {
  await using fixture = await clusterFixture({ agents: 1 });
  const { servers, namespace, pool } = fixture;
  const items = Array.from({ length: 10 }, (_, i) => [i, 50]);
  const got: number[] = [];
  const nc = await connect({ servers: servers.urls, token: servers.token });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    for await (
      const value of pool.imapUnordered(
        { module: TARGETS, export: "slowlyPair" },
        items,
      )
    ) {
      got.push(value as number);
      if (got.length === 1) {
        // What an agent that died after storing a result and before
        // acknowledging its task leaves behind: the same result again
        // (under new ids, past the servers' duplicate check).
        const first = await jsm.streams.getMessage(`MP_${namespace}_RESULTS`, {
          seq: 1,
        });
        for (const copy of ["copy-1", "copy-2"]) {
          await js.publish(first!.subject, first!.data, { msgID: copy });
        }
      }
    }
  } finally {
    await nc.close();
  }
  assert.deepEqual(got.sort((a, b) => a - b), items.map(([i]) => i));
});

Deno.test("cluster pool: an agent stopped with SIGTERM exits 0 and the tasks it held finish on another", async () => {
  await using fixture = await clusterFixture({ agents: 1 });
  const { servers, namespace, pool, agents: [a] } = fixture;
  const items = Array.from({ length: 8 }, (_, i) => [i, 300]);
  const results: number[] = [];
  let b: Agent | undefined;
  try {
    for await (
      const value of pool.imap({ module: TARGETS, export: "slowlyPair" }, items)
    ) {
      results.push(value as number);
      if (results.length === 1) {
        b = new Agent(servers, namespace, 1);
        await b.waitFor("agent ready");
        a.kill("SIGTERM");
        assert.equal((await a.child.status).code, 0);
      }
    }
  } finally {
    await b?.[Symbol.asyncDispose]();
  }
  assert.deepEqual(results, items.map(([i]) => i));
});
