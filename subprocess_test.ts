// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What only the subprocess backend does: OS pids and signals, a child that
// dies without a word, permissions, V8 flags, and primitives operated for
// the child by its parent. The tests shared with the worker backend loop
// over BACKENDS in each module's own test file.
import assert from "node:assert/strict";
import { ProcessError } from "./errors.ts";
import { Event } from "./event.ts";
import { Lock } from "./lock.ts";
import { type Connection, Pipe } from "./pipe.ts";
import { Process } from "./process.ts";
import { Queue } from "./queue.ts";
import { SharedArray, Value } from "./shared.ts";
import { ValueWriter } from "./testdata/subprocess_targets.ts";
import { testsProxy } from "./_test_util.ts";

const TARGETS = new URL("./testdata/subprocess_targets.ts", import.meta.url);
const target = (name: string) => ({ module: TARGETS, export: name });

function start(
  name: string,
  args: unknown[] = [],
  extra: Partial<ConstructorParameters<typeof Process>[0]> = {},
): Process {
  const p = new Process({
    target: target(name),
    args,
    backend: "subprocess",
    ...extra,
  });
  p.start();
  return p;
}

/** Whether `pid` names a live (not zombie) process. */
function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone; false when it still runs at the deadline. */
async function gone(pid: number, within: number): Promise<boolean> {
  const deadline = Date.now() + within;
  while (running(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

Deno.test("subprocess: exit codes, the rebuilt error and the OS pid", async () => {
  assert.equal(await start("exitWith", [0]).join(), 0);
  assert.equal(await start("exitWith", [7]).join(), 7);
  const failed = start("fail");
  assert.equal(await failed.join(), 1);
  assert.equal(failed.error?.name, "RangeError");
  assert.equal(failed.error?.message, "out of range in the child");
  assert.match(failed.error?.stack ?? "", /subprocess_targets\.ts/);
  assert.equal((failed.error?.cause as Error).name, "TypeError");

  const pid = new Value("i32", 0);
  const p = start("reportPid", [pid]);
  assert.equal(await p.join(), 0);
  assert.equal(pid.value, p.pid, "the child's Deno.pid is Process.pid");
  assert.notEqual(p.pid, Deno.pid);
});

// A target exported by the test module itself: found from the call stack.
export function setFromTestModule(value: Value<"i32">): void {
  value.value = 99;
}

Deno.test("subprocess: targets found from the stack, async targets, subclasses", async () => {
  const value = new Value("i32", 0);
  const p = new Process({
    target: setFromTestModule,
    args: [value],
    backend: "subprocess",
  });
  p.start();
  assert.equal(await p.join(), 0, p.error?.stack);
  assert.equal(value.value, 99);

  assert.equal(await start("setLater", [value]).join(), 0);
  assert.equal(value.value, 42);

  const writer = new ValueWriter(value, 5);
  writer.start();
  assert.equal(await writer.join(), 0, writer.error?.stack);
  assert.equal(value.value, 6);
});

Deno.test("subprocess: a child passes its proxies on to its own children", async () => {
  const value = new Value("i32", 0);
  const codes = new SharedArray("i32", [-1, -1]);
  const p = start("startGrandchildren", [value, codes]);
  assert.equal(await p.join(), 0, p.error?.stack);
  assert.deepEqual(codes.toArray(), [0, 0]);
  assert.equal(value.value, 2);
});

Deno.test("subprocess: a child's daemon children are ended when it returns", async () => {
  const pid = new Value("i32", 0);
  assert.equal(await start("leaveDaemon", [pid]).join(), 0);
  assert.ok(pid.value > 0);
  assert.equal(await gone(pid.value, 10_000), true);
});

Deno.test("subprocess: terminate() gives -15, kill() gives -9", async () => {
  for (const [how, code] of [["terminate", -15], ["kill", -9]] as const) {
    const started = new Event();
    const p = start("signalThenBlock", [started]);
    assert.equal(await started.wait(30_000), true);
    assert.equal(p.isAlive(), true);
    assert.equal(running(p.pid!), true);
    p[how]();
    assert.equal(await p.join(), code);
    assert.equal(p.isAlive(), false);
  }
});

Deno.test("subprocess: a child killed from outside ends with -9 and join() resolves", async () => {
  const started = new Event();
  const p = start("signalThenBlock", [started]);
  assert.equal(await started.wait(30_000), true);
  Deno.kill(p.pid!, "SIGKILL");
  assert.equal(await p.join(), -9);
  assert.equal(p.error, undefined);
});

Deno.test("subprocess: a child out of memory ends with a non-zero code, no hang", async () => {
  const p = start("exhaustMemory", [], {
    v8Flags: ["--max-old-space-size=16"],
  });
  const code = await p.join();
  assert.notEqual(code, null);
  assert.notEqual(code, 0);
});

Deno.test("subprocess: a lock held by a child that is killed is freed", async () => {
  const lock = new Lock();
  const holding = new Event();
  const p = start("holdLockThenBlock", [lock, holding]);
  assert.equal(await holding.wait(30_000), true);
  assert.equal(lock.locked(), true, "the child holds the lock");
  assert.equal(await lock.acquire({ blocking: false }), false);
  Deno.kill(p.pid!, "SIGKILL");
  assert.equal(await lock.acquire({ timeout: 10_000 }), true);
  lock.release();
  assert.equal(await p.join(), -9);
});

Deno.test("subprocess: permissions are inherited, or narrowed by the option", async (t) => {
  const file = new URL(import.meta.url).pathname;
  await t.step("by default the child has what this test has", async () => {
    const p = start("expectPermissions", [{ read: "granted", net: "granted" }]);
    assert.equal(await p.join(), 0, p.error?.message);
  });
  await t.step("a child without read permission cannot read", async () => {
    const p = start("readFile", [file], { permissions: { net: true } });
    assert.equal(await p.join(), 1);
    assert.equal(p.error?.name, "NotCapable");
    const none = start("readFile", [file], { permissions: "none" });
    assert.equal(await none.join(), 1);
    assert.equal(none.error?.name, "NotCapable");
  });
  await t.step(
    "a child given the file can read it, and nothing else",
    async () => {
      const p = start("readFile", [file], { permissions: { read: [file] } });
      assert.equal(await p.join(), 0, p.error?.message);
      const other = start("readFile", ["/etc/hostname"], {
        permissions: { read: [file] },
      });
      assert.equal(await other.join(), 1);
      const q = start("expectPermissions", [{ net: "prompt", env: "prompt" }], {
        permissions: { read: true },
      });
      assert.equal(await q.join(), 0, q.error?.message);
    },
  );
  await t.step("bad options are refused", () => {
    assert.throws(
      () => start("exitWith", [0], { permissions: { disk: true } as never }),
      TypeError,
    );
    assert.throws(
      () => new Process({ permissions: "none" }),
      /subprocess children only/,
    );
    assert.throws(
      () => new Process({ backend: "worker", v8Flags: ["--jitless"] }),
      TypeError,
    );
  });
});

Deno.test("subprocess: Value and Array are read and written in their home", async () => {
  const value = new Value("f64", 1.5);
  const array = new SharedArray("i32", [0, 10, 0]);
  const p = start("useShared", [value, array]);
  assert.equal(await p.join(), 0, p.error?.stack);
  assert.equal(value.value, 4);
  assert.deepEqual(array.toArray(), [13, 10, 30]);
});

Deno.test("subprocess: a queue is filled with put/putSync and read with for await", async () => {
  const queue = new Queue<number | null>();
  const producer = start("produce", [queue, 10]);
  const got: number[] = [];
  for (let item = await queue.get(); item !== null; item = await queue.get()) {
    got.push(item);
  }
  assert.equal(await producer.join(), 0, producer.error?.stack);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

  const input = new Queue<number>();
  const sum = new Value("i32", 0);
  const consumer = start("sumQueue", [input, sum]);
  for (const n of [1, 2, 3, 4, -1]) await input.put(n);
  assert.equal(await consumer.join(), 0, consumer.error?.stack);
  assert.equal(sum.value, 10);
  queue.close();
  input.close();
});

Deno.test("subprocess: waitSync() blocks the child, wait() does not", async () => {
  const go = new Event();
  const done = new Event();
  const p = start("waitBoth", [go, done]);
  assert.equal(await done.wait(50), false);
  go.set();
  assert.equal(await done.wait(30_000), true);
  assert.equal(await p.join(), 0, p.error?.stack);
});

Deno.test("subprocess: arguments JSON cannot carry, or too long for argv, arrive intact", async () => {
  const ok = new Value("i32", 0);
  const p = start("checkRichArgs", [
    ok,
    "y".repeat(199_999) + "z",
    {
      map: new Map([["k", new Set([1, 2])]]),
      date: new Date(7),
      none: undefined,
    },
    10n ** 30n,
  ]);
  assert.equal(await p.join(), 0, p.error?.stack);
  assert.equal(ok.value, 1);
});

Deno.test("subprocess: a primitive a child made reaches its parent as a proxy", async () => {
  const [here, there] = Pipe<Value<"i32">>();
  const written = new Event();
  const seen = new Value("i32", 0);
  const p = start("sendOwnValue", [there, written, seen]);
  const theirs = await here.recv();
  assert.equal(theirs.value, 5);
  theirs.value = 9;
  written.set();
  assert.equal(await p.join(), 0, p.error?.stack);
  assert.equal(seen.value, 9);
  here.close();
});

/** Sends a Lock made here to the parent, then returns once told to. */
export async function sendOwnLock(
  conn: Connection,
  done: Event,
): Promise<void> {
  conn.send(new Lock());
  if (!(await done.wait(30_000))) throw new Error("never told to end");
}

Deno.test("subprocess: a primitive whose home process ended fails with a ProcessError", async () => {
  const [here, there] = Pipe<Lock>();
  const done = new Event();
  const p = new Process({
    target: sendOwnLock,
    args: [there, done],
    backend: "subprocess",
  });
  p.start();
  try {
    const lock = await here.recv();
    assert.equal(await lock.acquire(), true);
    lock.release();
    done.set();
    assert.equal(await p.join(), 0, p.error?.stack);
    // An async method rejects; a method that may answer at once throws.
    await assert.rejects(lock.hold(), ProcessError);
    assert.throws(() => lock.acquireSync(), ProcessError);
    assert.throws(() => lock.locked(), (error: Error) => {
      assert.ok(error instanceof ProcessError);
      assert.match(error.message, /has ended/);
      return true;
    });
  } finally {
    p.terminate();
    await p.join();
    here.close();
  }
});

Deno.test({
  name: "subprocess: a function passed to a proxied method is a DataCloneError",
  ...testsProxy(),
  fn: async () => {
    const p = start("passFunction", [new Event()]);
    assert.equal(await p.join(), 0, p.error?.stack);
  },
});

Deno.test("subprocess: an argument that cannot cross is a TypeError naming it", () => {
  const p = new Process({
    target: target("exitWith"),
    args: [0, { cells: new Int32Array(new SharedArrayBuffer(8)) }],
    backend: "subprocess",
  });
  assert.throws(() => p.start(), /args\[1\].*SharedArrayBuffer/);
});

for (const kind of ["daemon", "non-daemon"]) {
  Deno.test(`subprocess: a ${kind} child ends when its parent is killed`, async () => {
    const parent = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./testdata/subprocess_orphan.ts", import.meta.url).href,
        kind,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = parent.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let line = "";
    while (!line.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      line += value;
    }
    const childPid = Number(line.trim());
    assert.ok(childPid > 0, `the parent printed its child's pid: ${line}`);
    assert.equal(running(childPid), true);
    parent.kill("SIGKILL");
    await parent.status;
    await reader.cancel();
    assert.equal(await gone(childPid, 10_000), true, "the child ended");
  });
}
