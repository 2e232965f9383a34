// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Subprocess children on primitives in shared memory (where FFI is
// granted), and the proxy where a child may not use FFI.
import assert from "node:assert/strict";
import { SharedArray, Value } from "./shared.ts";
import { Barrier } from "./barrier.ts";
import { Event } from "./event.ts";
import { Lock, RLock } from "./lock.ts";
import { JoinableQueue, Queue, SimpleQueue } from "./queue.ts";
import { BoundedSemaphore, Semaphore } from "./semaphore.ts";
import { Condition } from "./condition.ts";
import { allocatedSegmentBytes } from "./_shm/memory.ts";
import { encode, wireContext } from "./_wire.ts";
import { PROXY_MODULE } from "./_backend/subprocess/proxy/protocol.ts";
import {
  eventually,
  ProgramRun,
  running,
  startChild,
  SUBPROCESS_PRIMITIVES,
} from "./_test_util.ts";

const TARGETS = new URL("./testdata/shm_targets.ts", import.meta.url);
const SYNC_TARGETS = new URL("./testdata/sync_targets.ts", import.meta.url);
const PARENT = new URL("./testdata/shm_parent_program.ts", import.meta.url);

/** The entries of /dev/shm that link into the memory of process `pid`. */
function devShmLinksOf(pid: number): string[] {
  const links: string[] = [];
  for (const entry of Deno.readDirSync("/dev/shm")) {
    try {
      const target = Deno.readLinkSync(`/dev/shm/${entry.name}`);
      if (target.startsWith(`/proc/${pid}/`)) links.push(entry.name);
    } catch {
      // Not a link, or gone while we looked.
    }
  }
  return links;
}

// The parent's permissions without FFI: what the subprocess backend needs.
const WITHOUT_FFI = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-run",
  "--allow-env",
];
const inFfiRun = { ignore: SUBPROCESS_PRIMITIVES !== "ffi" };

Deno.test({
  name: "shared memory: a subprocess child works on the parent's memory itself",
  ...inFfiRun,
  fn: async () => {
    const arr = new SharedArray("i32", 4);
    const child = startChild(TARGETS, "subprocess", "reportMemory", [arr]);
    assert.equal(await child.join(), 0);
    assert.equal(arr.get(0), 1);
  },
});

Deno.test("shared memory: a child whose permissions leave FFI out gets proxies, and counts stay exact", async () => {
  const counter = new Value("i32", 0);
  const children = [0, 1].map(() =>
    startChild(TARGETS, "subprocess", "increment", [counter, 300], {
      permissions: "none",
    })
  );
  try {
    for (const child of children) assert.equal(await child.join(), 0);
    assert.equal(counter.value, 600);
  } finally {
    for (const child of children) {
      if (child.exitCode === null) child.kill();
      await child.join();
    }
  }
});

Deno.test({
  name:
    "shared memory: a subprocess child passes what it was given on to its own subprocess child",
  ...inFfiRun,
  fn: async () => {
    const counter = new Value("i32", 0);
    const children = [0, 1].map(() =>
      startChild(TARGETS, "subprocess", "incrementWithGrandchild", [
        counter,
        5_000,
      ])
    );
    try {
      for (const child of children) assert.equal(await child.join(), 0);
      assert.equal(counter.value, 20_000);
    } finally {
      for (const child of children) {
        if (child.exitCode === null) child.kill();
        await child.join();
      }
    }
  },
});

Deno.test({
  name:
    "shared memory: MP_SHARED_MEMORY=proxy keeps a program's primitives behind the proxy",
  ...inFfiRun,
  fn: async () => {
    const code = `
      import { SharedArray } from ${
      JSON.stringify(import.meta.resolve("./shared.ts"))
    };
      import { inSegment } from ${
      JSON.stringify(import.meta.resolve("./_shm/memory.ts"))
    };
      console.log(inSegment(new SharedArray("i32", 1).array.buffer));
    `;
    const run = (env: Record<string, string>) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `data:text/javascript,${encodeURIComponent(code)}`],
        env,
        stderr: "inherit",
      }).output().then((out) => new TextDecoder().decode(out.stdout).trim());
    assert.equal(await run({ MP_SHARED_MEMORY: "proxy" }), "false");
    assert.equal(await run({}), "true");
  },
});

Deno.test({
  name:
    "shared memory: every primitive the issue lists goes to a subprocess child in shared memory, none as a proxy",
  ...inFfiRun,
  fn: () => {
    const primitives = {
      Lock: new Lock(),
      RLock: new RLock(),
      Semaphore: new Semaphore(2),
      BoundedSemaphore: new BoundedSemaphore(2),
      Event: new Event(),
      Condition: new Condition(),
      Barrier: new Barrier(2),
      Value: new Value("i32", 1),
      Array: new SharedArray("f64", 3),
      Queue: new Queue(),
      JoinableQueue: new JoinableQueue(),
      SimpleQueue: new SimpleQueue(),
    };
    for (const [kind, primitive] of Object.entries(primitives)) {
      const record = JSON.stringify(
        encode([primitive], wireContext("subprocess")),
      );
      assert.equal(record.includes(PROXY_MODULE), false, `${kind} is proxied`);
    }
  },
});

for (const Kind of [Lock, RLock]) {
  Deno.test({
    name:
      `shared memory: a parent blocked in ${Kind.name}.acquireSync() takes it over from a subprocess holder killed meanwhile, which it cannot reap while blocked`,
    ...inFfiRun,
    fn: async () => {
      const lock = new Kind();
      const held = new Event();
      const never = new Event();
      const holder = startChild(SYNC_TARGETS, "subprocess", "holdForever", [
        lock,
        held,
        never,
      ]);
      try {
        assert.equal(await held.wait(30_000), true);
        Deno.kill(holder.pid!, "SIGKILL");
        // The thread blocks here: the child's end is seen in /proc, not by
        // reaping it. Generous bound only so that a failure ends.
        assert.equal(lock.acquireSync({ timeout: 10_000 }), true);
        lock.release();
      } finally {
        if (holder.exitCode === null) holder.kill();
        await holder.join();
      }
    },
  });
}

const PARENT_ENDINGS = [
  { ending: "return", ffi: true },
  { ending: "throw", ffi: true },
  { ending: "SIGTERM", ffi: true },
  { ending: "SIGKILL", ffi: true },
  { ending: "return", ffi: false },
] as const;

for (const { ending, ffi } of PARENT_ENDINGS) {
  Deno.test({
    name: `shared memory: a parent ${
      ffi ? "with" : "without"
    } --allow-ffi whose children count exactly, then ends (${ending}), leaves no child and nothing in /dev/shm`,
    // With FFI, only where this run puts primitives in shared memory.
    ignore: ffi && SUBPROCESS_PRIMITIVES !== "ffi",
    fn: async () => {
      await using program = new ProgramRun(
        PARENT,
        [ending.startsWith("SIG") ? "wait" : ending],
        { flags: ffi ? ["--allow-all"] : WITHOUT_FFI },
      );
      const seen = JSON.parse(await program.line() ?? "null");
      assert.equal(seen?.segments, ffi, "primitives in shared segments");
      assert.equal(seen.counted, 600);
      assert.deepEqual(seen.exitCodes, [0, 0]);
      assert.equal(seen.held, true);
      if (ending.startsWith("SIG")) {
        // (A parent that returns or throws may have ended it already.)
        assert.ok(running(seen.waiting), "a child waits, holding the lock");
        program.kill(ending as Deno.Signal);
      }
      const status = await program.status(30_000);
      assert.ok(status, "the parent ended");
      assert.equal(status.success, ending === "return");
      // Generous bound only so that a failure ends.
      assert.ok(
        await eventually(() => !running(seen.waiting), 30_000),
        "the waiting child ended with its parent",
      );
      assert.deepEqual(devShmLinksOf(seen.pid), []);
      assert.deepEqual(devShmLinksOf(seen.waiting), []);
    },
  });
}

/** Two subprocess children (one blocking, one not) and this process pass `barrier`. */
async function passTogether(
  barrier: Barrier,
  permissions?: "none",
): Promise<void> {
  const indexes = new SharedArray("i32", [9, 9, 9]);
  const children = [0, 1].map((slot) =>
    startChild(TARGETS, "subprocess", "waitAtBarrier", [
      barrier,
      indexes,
      slot,
      slot === 1,
    ], { permissions })
  );
  try {
    // A timeout, so that children that fail before they arrive fail the
    // test rather than hang it.
    indexes.set(2, await barrier.wait(60_000));
    for (const child of children) assert.equal(await child.join(), 0);
    assert.deepEqual(indexes.toArray().sort(), [0, 1, 2]);
    assert.equal(barrier.broken, false);
  } finally {
    for (const child of children) {
      if (child.exitCode === null) child.kill();
      await child.join();
    }
  }
}

Deno.test({
  name:
    "shared memory: a Barrier reaches a subprocess child in shared memory, with no proxy to wait through",
  ...inFfiRun,
  fn: async () => {
    const barrier = new Barrier(3);
    const record = encode([barrier], wireContext("subprocess"));
    assert.equal(JSON.stringify(record).includes(PROXY_MODULE), false);
    await passTogether(barrier);
  },
});

Deno.test("shared memory: a child whose permissions leave FFI out waits at a Barrier through its home", async () => {
  await passTogether(new Barrier(3), "none");
});

Deno.test({
  name:
    "shared memory: primitives dropped without being sent anywhere give their memory back",
  ...inFfiRun,
  fn: async () => {
    const start = allocatedSegmentBytes();
    let most = 0;
    for (let round = 0; round < 60; round++) {
      // 256 KiB of arena slices a round, and a queue's segment of its own.
      for (let i = 0; i < 2_000; i++) {
        new Lock();
        new Event();
      }
      new Queue();
      // A turn of the event loop, where the finalizers run.
      await new Promise((resolve) => setTimeout(resolve, 0));
      most = Math.max(most, allocatedSegmentBytes() - start);
    }
    // Kept, they would take 15 MiB of arenas and 60 queue segments. How
    // many are alive at once depends on when the collector runs: under
    // load up to 8 were seen.
    const queueSegment = 1 << 30;
    assert.ok(
      most < 20 * queueSegment,
      `Segments grew to ${most} bytes`,
    );
    const kept = (allocatedSegmentBytes() - start) % queueSegment;
    assert.ok(kept < 8 << 20, `Arenas grew by ${kept} bytes`);
  },
});
