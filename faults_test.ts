// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The fault matrix: what a fault (a killed child, a dead parent, bad input,
// an unguarded module, load) may not cost. Each test's name is the contract
// it checks; each runs on every backend where the fault applies.
import assert from "node:assert/strict";
import {
  BACKENDS,
  eventually,
  ProgramRun,
  running,
  startChild,
} from "./_test_util.ts";
import { Event } from "./event.ts";
import { Lock } from "./lock.ts";
import { Queue } from "./queue.ts";
import { SharedArray, Value } from "./shared.ts";
import { SPIN, SPIN_CALLS } from "./testdata/fault_targets.ts";

const TARGETS = new URL("./testdata/fault_targets.ts", import.meta.url);
const testdata = (name: string) =>
  new URL(`./testdata/${name}`, import.meta.url);

// §1 A child of an unguarded module gets a clear error.
for (const backend of BACKENDS) {
  for (const kind of ["process", "pool"]) {
    Deno.test(
      `${backend}: a child of an unguarded module gets a clear error (${kind})`,
      async () => {
        await using program = new ProgramRun(
          testdata("unguarded_program.ts"),
          [backend, kind],
        );
        const status = await program.status(30_000);
        assert.ok(status, "the program ended by itself");
        assert.notEqual(status.code, 0);
        const output = `${await program.line()}\n${await program.stderr()}`;
        assert.match(output, /import\.meta\.main/);
        assert.ok(
          await eventually(() => program.group().length === 0, 5_000),
          `no process is left: ${program.group()}`,
        );
      },
    );
  }
}

// §2 A subprocess child ends with its parent, however busy.
const PARENT_ENDS: [string, (run: ProgramRun) => void][] = [
  ["killed", (run) => run.kill("SIGKILL")],
  ["terminated", (run) => run.kill("SIGTERM")],
  ["interrupted", (run) => run.kill("SIGINT")],
  ["crashed", () => {}],
];
for (const [ending, end] of PARENT_ENDS) {
  for (const child of ["busy", "loading"]) {
    for (const daemon of ["daemon", "plain"]) {
      Deno.test(
        `subprocess: a ${daemon} child ${child} in its own code ends within 1 s of its parent being ${ending}`,
        async () => {
          await using program = new ProgramRun(
            testdata("busy_parent_program.ts"),
            [child, ending === "crashed" ? "crash" : "wait", daemon],
          );
          const pid = Number(await program.line());
          assert.ok(pid > 0, "the parent printed its child's pid");
          assert.ok(running(pid));
          end(program);
          assert.ok(await program.status(30_000), "the parent ended");
          assert.ok(
            await eventually(() => !running(pid), 1_000),
            "the child ended within 1 s of its parent",
          );
        },
      );
    }
  }
}

// §3 A killed Worker child's library calls have no effect.
Deno.test(
  "worker: a killed child busy in its own code changes nothing through the library",
  async () => {
    const cells = new Int32Array(
      new SharedArrayBuffer(4 * (SPIN.calls + SPIN_CALLS.length)),
    );
    const lock = new Lock();
    const queue = new Queue<number>();
    const value = new Value("i32", 0);
    const array = new SharedArray("i32", 1);
    const event = new Event();
    const p = startChild(TARGETS, "worker", "spinThenTry", [
      cells,
      lock,
      queue,
      value,
      array,
      event,
    ]);
    try {
      while (Atomics.load(cells, SPIN.holding) === 0) {
        const wait = Atomics.waitAsync(cells, SPIN.holding, 0, 10_000);
        if (wait.async) await wait.value;
      }
      p.kill();
      assert.equal(await p.join(), -9);
      assert.equal(p.isAlive(), false);
      // Its lock is free for the living: the parent takes it.
      assert.equal(await lock.acquire({ timeout: 10_000 }), true);
      Atomics.store(cells, SPIN.go, 1);
      while (Atomics.load(cells, SPIN.tried) === 0) {
        const wait = Atomics.waitAsync(cells, SPIN.tried, 0, 10_000);
        if (wait.async) await wait.value;
      }
      const outcomes = Object.fromEntries(
        SPIN_CALLS.map((name, i) => [name, cells[SPIN.calls + i]]),
      );
      assert.deepEqual(
        outcomes,
        Object.fromEntries(SPIN_CALLS.map((name) => [name, 1])),
        "every call of the killed child threw",
      );
      assert.equal(lock.locked(), true, "the parent still holds the lock");
      lock.release();
      assert.equal(queue.qsize(), 0);
      assert.equal(value.value, 0);
      assert.equal(array.get(0), 0);
      assert.equal(event.isSet(), false);
    } finally {
      Atomics.store(cells, SPIN.go, 1);
      queue.close();
    }
  },
);

Deno.test(
  "worker: a program whose killed child spins forever still ends by itself",
  async () => {
    await using program = new ProgramRun(
      testdata("spinning_child_program.ts"),
    );
    assert.equal(await program.line(), "joined -9 alive false");
    const status = await program.status(30_000);
    assert.ok(status, "the program ended by itself");
    assert.equal(status.code, 3, "with the exit code it set");
  },
);

// §4 A call pending when its subprocess child dies is cancelled.

// §5 A dead pool worker takes no new work.

// §6 Timeouts of any length.

// §7 Deno.exitCode is the child's exit code.
for (const backend of BACKENDS) {
  for (const name of ["setExitCode", "setExitCodeLater"]) {
    Deno.test(
      `${backend}: a target that sets Deno.exitCode and returns ends with that code (${name})`,
      async () => {
        const p = startChild(TARGETS, backend, name, [5]);
        assert.equal(await p.join(), 5);
        assert.equal(p.error, undefined);
      },
    );
  }
}

// §8 No temporary directory is left behind.
const TEMP_ENDS: [string, string, (run: ProgramRun) => void][] = [
  ["returns", "return", () => {}],
  ["throws", "throw", () => {}],
  ["calls Deno.exit", "exit", () => {}],
  ["gets SIGINT", "wait", (run) => run.kill("SIGINT")],
  ["gets SIGTERM", "wait", (run) => run.kill("SIGTERM")],
];
for (const [ending, mode, end] of TEMP_ENDS) {
  Deno.test(
    `subprocess: a parent that ${ending} leaves no temporary directory`,
    async () => {
      const tmp = await Deno.makeTempDir();
      try {
        await using program = new ProgramRun(testdata("tempdir_program.ts"), [
          mode,
        ], { env: { TMPDIR: tmp } });
        assert.equal(await program.line(), "ready");
        end(program);
        assert.ok(await program.status(30_000), "the program ended");
        assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), []);
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    },
  );
}

Deno.test(
  "subprocess: the directory of a parent killed by SIGKILL is removed by the next start",
  async () => {
    const tmp = await Deno.makeTempDir();
    try {
      {
        await using program = new ProgramRun(
          testdata("tempdir_program.ts"),
          ["wait"],
          { env: { TMPDIR: tmp } },
        );
        assert.equal(await program.line(), "ready");
        program.kill("SIGKILL");
        assert.ok(await program.status(30_000));
      }
      assert.equal([...Deno.readDirSync(tmp)].length, 1, "SIGKILL leaves one");
      await using next = new ProgramRun(
        testdata("tempdir_program.ts"),
        ["return"],
        { env: { TMPDIR: tmp } },
      );
      assert.equal(await next.line(), "ready");
      assert.ok(await next.status(30_000));
      assert.deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), []);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
);

// §9 Python's habits.

// §10 Messages that say what to do.

// §11 No library call stalls the event loop.

Deno.test("the fault matrix runs on every backend", () => {
  assert.deepEqual([...BACKENDS].sort(), ["subprocess", "worker"]);
});
