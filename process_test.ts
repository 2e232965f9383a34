// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import {
  BACKENDS,
  ProgramRun,
  sharesMemory,
  startChild,
} from "./_test_util.ts";
import { ProcessError } from "./errors.ts";
import {
  activeChildren,
  type Backend,
  cpuCount,
  currentProcess,
  parentProcess,
  Process,
} from "./process.ts";

import { type Cells, CellWriter, wordsOf } from "./testdata/process_targets.ts";
import { SharedArray } from "./shared.ts";
import { startImported } from "./testdata/reexported_targets.ts";

const TARGETS = new URL("./testdata/process_targets.ts", import.meta.url);
const target = (name: string) => ({ module: TARGETS, export: name });
/** Memory shared with children of `backend` (see `Cells`). */
const cellsFor = (backend: Backend): Cells =>
  backend === "worker"
    ? new Int32Array(new SharedArrayBuffer(16))
    : new SharedArray("i32", 4);

/** Waits until cells[index] is no longer `value`. */
async function waitChange(cells: Cells, index: number, value: number) {
  const c = wordsOf(cells);
  while (Atomics.load(c, index) === value) {
    if (c.buffer instanceof SharedArrayBuffer) {
      const r = Atomics.waitAsync(c, index, value, 5_000);
      if (r.async) await r.value;
    } else {
      // Memory that Atomics.waitAsync refuses: look again shortly.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

// A target exported by the test module itself: found from the call stack.
export function setFromTestModule(c: Cells): void {
  Atomics.store(wordsOf(c), 0, 99);
}

for (const backend of BACKENDS) {
  const start = (name: string, args: unknown[] = [], extra = {}) =>
    startChild(TARGETS, backend, name, args, extra);
  const cells = () => cellsFor(backend);

  Deno.test(`${backend}: a target that returns ends with exit code 0`, async () => {
    const p = start("noop");
    assert.equal(p.exitCode, null);
    assert.equal(await p.join(), 0);
    assert.equal(p.exitCode, 0);
    assert.equal(p.isAlive(), false);
    assert.equal(p.error, undefined);
    assert.ok(typeof p.pid === "number" && p.pid > 0);
  });

  Deno.test(
    `${backend}: the target is found in the module that called new Process()`,
    sharesMemory(backend),
    async () => {
      const c = cells();
      const p = new Process({ target: setFromTestModule, args: [c], backend });
      p.start();
      assert.equal(await p.join(), 0);
      assert.equal(wordsOf(c)[0], 99);
    },
  );

  Deno.test(
    `${backend}: a subclass's run() runs in the child with its fields`,
    sharesMemory(backend),
    async () => {
      const c = cells();
      const p = new CellWriter(c, 5, backend);
      assert.equal(p.backend, backend);
      p.start();
      assert.equal(await p.join(), 0, p.error?.message);
      assert.deepEqual([wordsOf(c)[0], wordsOf(c)[1]], [5, 1]);
    },
  );

  Deno.test(`${backend}: a target imported into the caller module is found where it is exported`, async () => {
    const c = cells();
    const p = startImported(c);
    assert.equal(await p.join(), 0, p.error?.message);
    assert.equal(wordsOf(c)[3], 11);
  });

  Deno.test(
    `${backend}: an async target is awaited`,
    sharesMemory(backend),
    async () => {
      const c = cells();
      assert.equal(await start("asyncWork", [c]).join(), 0);
      assert.equal(wordsOf(c)[0], 42);
    },
  );

  Deno.test(`${backend}: an uncaught error gives exit code 1 and the rebuilt error`, async () => {
    const p = start("fail", ["bad value"]);
    assert.equal(await p.join(), 1);
    const error = p.error;
    assert.ok(error instanceof Error);
    assert.equal(error.name, "ValueError");
    assert.equal(error.message, "bad value");
    assert.match(error.stack ?? "", /process_targets\.ts/);
    assert.ok(error.cause instanceof RangeError);
    assert.equal((error.cause as Error).message, "the cause");
  });

  Deno.test(`${backend}: a rejected async target gives exit code 1`, async () => {
    const p = start("failLater");
    assert.equal(await p.join(), 1);
    assert.ok(p.error instanceof TypeError);
    assert.equal(p.error.message, "rejected");
  });

  Deno.test(`${backend}: exit(n) and Deno.exit(n) give exit code n`, async () => {
    assert.equal(await start("exitWith", [5]).join(), 5);
    assert.equal(await start("denoExit", [3]).join(), 3);
    assert.equal(await start("exitWith", [0]).join(), 0);
  });

  Deno.test(
    `${backend}: terminate() gives -15 and kill() gives -9`,
    sharesMemory(backend),
    async () => {
      for (const [how, code] of [["terminate", -15], ["kill", -9]] as const) {
        const c = cells();
        const p = start("block", [c]);
        await waitChange(c, 0, 0);
        assert.equal(p.isAlive(), true);
        p[how]();
        assert.equal(await p.join(), code);
        assert.equal(p.isAlive(), false);
      }
    },
  );

  Deno.test(`${backend}: join(timeout) resolves null while the child runs`, async () => {
    const p = start("idle");
    assert.equal(await p.join(10), null);
    assert.equal(p.exitCode, null);
    assert.equal(p.isAlive(), true);
    p.terminate();
    assert.equal(await p.join(), -15);
    assert.equal(await p.join(0), -15);
  });

  Deno.test(`${backend}: an error thrown later from a timer ends the child with 1`, async () => {
    const p = start("throwInTimer");
    assert.equal(await p.join(), 1);
    assert.equal(p.error?.name, "SyntaxError");
    assert.equal(p.error?.message, "thrown from a timer");
  });

  Deno.test(`${backend}: an unhandled rejection ends the child with 1`, async () => {
    const p = start("rejectUnhandled");
    assert.equal(await p.join(), 1);
    assert.equal(p.error?.name, "EvalError");
  });

  Deno.test(`${backend}: a child knows its name, pid and parent`, async () => {
    const p = start("checkIdentity", ["worker-7", currentProcess().pid], {
      name: "worker-7",
    });
    assert.equal(p.name, "worker-7");
    assert.equal(await p.join(), 0, p.error?.message);
  });

  Deno.test(`${backend}: a child starts its children on its own backend, as Python's inherits its start method`, async () => {
    const p = start("checkStartMethod", [backend]);
    assert.equal(await p.join(), 0, p.error?.message);
  });

  Deno.test(`${backend}: a child's join of its parent waits while the parent lives`, async () => {
    const p = start("joinParent", [30]);
    assert.equal(await p.join(), 0, p.error?.message);
  });

  Deno.test(
    `${backend}: a child can start a grandchild`,
    sharesMemory(backend),
    async () => {
      const c = cells();
      assert.equal(await start("startGrandchild", [c]).join(), 0);
      assert.equal(wordsOf(c)[1], 7, "the grandchild wrote its cell");
      assert.equal(
        wordsOf(c)[2],
        1,
        "the grandchild's exit code 0 reached the child",
      );
    },
  );

  Deno.test(
    `${backend}: a child's daemon children are ended when it ends`,
    sharesMemory(backend),
    async () => {
      const c = cells();
      assert.equal(await start("leaveDaemon", [c]).join(), 0);
    },
  );

  Deno.test(
    `${backend}: args are copied, not shared`,
    sharesMemory(backend),
    async () => {
      const data = { list: [1, 2, 3] };
      const c = cells();
      assert.equal(await start("mutate", [data, c]).join(), 0);
      assert.equal(wordsOf(c)[0], 4);
      assert.deepEqual(data.list, [1, 2, 3]);
    },
  );

  Deno.test(`${backend}: activeChildren() lists running children only`, async () => {
    const p = start("idle");
    assert.ok(activeChildren().includes(p));
    p.kill();
    await p.join();
    assert.ok(!activeChildren().includes(p));
  });

  Deno.test(`${backend}: bad input is refused with a clear error`, async (t) => {
    await t.step("join before start", async () => {
      const p = new Process({ target: target("noop"), backend });
      await assert.rejects(() => p.join(), ProcessError);
      assert.throws(() => p.terminate(), ProcessError);
    });
    await t.step("start twice", async () => {
      const p = start("noop");
      assert.throws(() => p.start(), /already started/);
      await p.join();
    });
    await t.step("an argument that cannot be cloned names its position", () => {
      const p = new Process({
        target: target("noop"),
        args: [1, () => 2],
        backend,
      });
      assert.throws(() => p.start(), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, /args\[1\]/);
        return true;
      });
      assert.equal(activeChildren().length, 0);
    });
    await t.step("an anonymous target", () => {
      const p = new Process({ target: (() => () => {})(), backend });
      assert.throws(() => p.start(), /named function exported by its module/);
    });
    await t.step("a target its module does not export", async () => {
      const p = new Process({
        target: { module: TARGETS, export: "missing" },
        backend,
      });
      p.start();
      assert.equal(await p.join(), 1);
      assert.ok(p.error instanceof TypeError);
      assert.match(p.error.message, /not exported by .*process_targets\.ts/);
    });
    await t.step("a bad timeout", async () => {
      const p = start("noop");
      await assert.rejects(() => p.join(-1), RangeError);
      await assert.rejects(() => p.join(NaN), RangeError);
      await p.join();
    });
    await t.step("daemon after start, close while running", async () => {
      const p = start("idle");
      assert.throws(() => (p.daemon = true), ProcessError);
      assert.throws(() => p.close(), ProcessError);
      p.terminate();
      await p.join();
      p.close();
      assert.throws(() => p.start(), ProcessError);
      assert.throws(
        () => p.isAlive(),
        /Cannot tell whether .* is alive: it is closed/,
      );
      assert.equal(p.exitCode, -15);
    });
  });
}

Deno.test("worker: self.close() in a child ends it with exit code 0", async () => {
  const p = new Process({ target: target("closeSelf") });
  p.start();
  assert.equal(await p.join(), 0);
});

Deno.test("the main process describes itself", async () => {
  const self = currentProcess();
  assert.equal(self.name, "MainProcess");
  assert.equal(self.pid, Deno.pid);
  assert.equal(self.isAlive(), true);
  assert.equal(parentProcess(), null);
  assert.ok(cpuCount() >= 1);
  assert.throws(() => self.start(), ProcessError);
  await assert.rejects(self.join(), /Cannot join MainProcess: it is this/);
});

Deno.test("processes are named Process-N by default", () => {
  const a = new Process();
  const b = new Process();
  assert.match(a.name, /^Process-\d+$/);
  const n = (p: Process) => Number(p.name.split("-")[1]);
  assert.equal(n(b), n(a) + 1);
});

Deno.test("an unknown backend is a TypeError", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new Process({ backend: "thread" as any }),
    TypeError,
  );
});

Deno.test("the main program waits for non-daemon children, not for daemon ones", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      new URL("./testdata/daemon_program.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // A watchdog, not a pause: if the program hangs, end it and fail.
  const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const { code, stdout } = await child.output();
  clearTimeout(watchdog);
  assert.equal(code, 0, "the program ended by itself");
  assert.deepEqual(new TextDecoder().decode(stdout).trim().split("\n"), [
    "main done",
    "non-daemon child done",
  ]);
});

for (const backend of BACKENDS) {
  Deno.test(`${backend}: a program that only awaits the join of a daemon child runs until the child ends`, async () => {
    await using program = new ProgramRun(
      new URL("./testdata/daemon_join_program.ts", import.meta.url),
      [backend],
    );
    const status = await program.status(30_000);
    assert.ok(status, "the program ended by itself");
    assert.equal(await program.line(), "0", "join() resolved with 0");
    assert.equal(status.code, 0, await program.stderr());
  });
}
