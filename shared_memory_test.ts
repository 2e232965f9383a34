// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import {
  ShareableList,
  SharedMemory,
  SharedMemoryManager,
} from "./shared_memory.ts";
import { ProcessError } from "./errors.ts";
import { BACKENDS, ProgramRun, startChild } from "./_test_util.ts";

const TARGETS = new URL("./testdata/shared_memory_targets.ts", import.meta.url);
const PROGRAM = new URL(
  "./testdata/shared_memory_program.ts",
  import.meta.url,
);

function devShm(): string[] {
  try {
    return [...Deno.readDirSync("/dev/shm")].map((entry) => entry.name).sort();
  } catch {
    return [];
  }
}

Deno.test("SharedMemory: a block made here is attached by name and shares its bytes", () => {
  const made = new SharedMemory({ create: true, size: 100 });
  const attached = new SharedMemory({ name: made.name });
  try {
    assert.equal(attached.name, made.name);
    assert.equal(attached.size, 100);
    assert.equal(made.buf.length, 100);
    made.buf[99] = 9;
    assert.equal(attached.buf[99], 9);
    const a = new Int32Array(made.buf.buffer, 0, 1);
    const b = new Int32Array(attached.buf.buffer, 0, 1);
    Atomics.add(a, 0, 5);
    assert.equal(Atomics.compareExchange(b, 0, 5, 6), 5);
    assert.equal(Atomics.load(a, 0), 6);
  } finally {
    attached.close();
    made.close();
    made.unlink();
  }
});

Deno.test("SharedMemory: close empties the views and keeps the maker's name until unlink", () => {
  const made = new SharedMemory({ create: true, size: 8 });
  const view = made.buf;
  made.close();
  made.close();
  assert.equal(view.length, 0);
  assert.throws(() => made.buf, /was closed/);
  assert.ok(devShm().includes(made.name), "the name is in /dev/shm");
  const again = new SharedMemory({ name: made.name });
  assert.equal(again.size, 8);
  made.unlink();
  assert.ok(!devShm().includes(made.name), "the name left /dev/shm");
  assert.throws(
    () => new SharedMemory({ name: made.name }),
    (error: Error) =>
      error instanceof Deno.errors.NotFound &&
      /was unlinked, or the process that made it ended/.test(error.message),
  );
  again.buf[7] = 7;
  assert.equal(again.buf[7], 7, "an attachment outlives the name");
  again.close();
});

Deno.test("SharedMemory: a chosen name is made once, attached, and unlinked by an attacher", () => {
  const name = `mp_test_${crypto.randomUUID().slice(0, 8)}`;
  const made = new SharedMemory({ name, create: true, size: 32 });
  try {
    assert.equal(made.name, name);
    assert.throws(
      () => new SharedMemory({ name, create: true, size: 32 }),
      (error: Error) =>
        error instanceof Deno.errors.AlreadyExists &&
        error.message.includes(name),
    );
    const attached = new SharedMemory({ name: `/${name}` });
    assert.equal(attached.name, name, "a leading slash is dropped");
    attached.buf[0] = 5;
    assert.equal(made.buf[0], 5);
    attached.unlink();
    assert.throws(() => attached.unlink(), Deno.errors.NotFound);
    assert.throws(() => made.unlink(), Deno.errors.NotFound);
    assert.throws(() => new SharedMemory({ name }), Deno.errors.NotFound);
    made.buf[1] = 6;
    assert.equal(attached.buf[1], 6, "the mappings stay valid");
    attached.close();
    // The name is free again.
    using second = new SharedMemory({ name, create: true, size: 4 });
    assert.equal(second.buf[0], 0);
    second.unlink();
  } finally {
    made.close();
  }
});

Deno.test("SharedMemory: bad options are refused with what to do", () => {
  for (const size of [0, -1, 1.5, NaN, undefined]) {
    assert.throws(
      () => new SharedMemory({ create: true, size }),
      RangeError,
      `size ${size}`,
    );
  }
  for (const name of ["", "/", "a/b", "..", "x".repeat(201)]) {
    assert.throws(
      () => new SharedMemory({ name, create: true, size: 8 }),
      (error: Error) =>
        error instanceof TypeError && /as the name of/.test(error.message),
      `name ${name}`,
    );
  }
  assert.throws(() => new SharedMemory({}), /without its name/);
  assert.throws(
    () => new SharedMemory({ create: true, size: 8, track: false }),
    (error: Error) =>
      error instanceof TypeError && /untracked/.test(error.message),
  );
  assert.throws(
    () => new SharedMemory({ name: `mp_missing_${crypto.randomUUID()}` }),
    Deno.errors.NotFound,
  );
});

Deno.test("SharedMemory: a descriptor number reused for another file is not taken for the block", () => {
  const made = new SharedMemory({ create: true, size: 8 });
  const name = made.name;
  made.unlink();
  made.close();
  // Whatever the descriptor names now, it is not that block.
  const path = Deno.makeTempFileSync();
  using _file = Deno.openSync(path, { read: true, write: true });
  try {
    assert.throws(() => new SharedMemory({ name }), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(path);
  }
});

for (const backend of BACKENDS) {
  Deno.test(`SharedMemory: passed to ${backend} children, who add to it atomically`, async () => {
    using shm = new SharedMemory({ create: true, size: 8 });
    const children = [0, 1].map(() =>
      startChild(TARGETS, backend, "addMany", [shm, 20_000])
    );
    try {
      for (const child of children) await child.join();
      for (const child of children) assert.equal(child.exitCode, 0);
      assert.equal(
        Atomics.load(new Int32Array(shm.buf.buffer, 0, 1), 0),
        40_000,
      );
    } finally {
      for (const child of children) {
        if (child.exitCode === null) child.kill();
        await child.join();
      }
      shm.unlink();
    }
  });
}

for (const backend of BACKENDS) {
  Deno.test(`SharedMemoryManager: its blocks are passed to ${backend} children`, async () => {
    await using smm = new SharedMemoryManager();
    await smm.start();
    const shm = smm.SharedMemory(8);
    const list = smm.ShareableList([1.5, 0, 0, "howdy"]);
    const children = [
      startChild(TARGETS, backend, "addMany", [shm, 1_000]),
      startChild(TARGETS, backend, "appendToList", [list]),
    ];
    try {
      for (const child of children) assert.equal(await child.join(), 0);
      assert.equal(
        Atomics.load(new Int32Array(shm.buf.buffer, 0, 1), 0),
        1_000,
      );
      assert.deepEqual([...list], [2.5, 0, 0, "hi"]);
    } finally {
      for (const child of children) {
        if (child.exitCode === null) child.kill();
        await child.join();
      }
    }
  });
}

Deno.test("SharedMemory: an unrelated deno run attaches by name and sees the writes, both ways", async () => {
  using shm = new SharedMemory({ create: true, size: 16 });
  shm.buf[1] = 21;
  const code = `
    import { SharedMemory } from ${
    JSON.stringify(import.meta.resolve("./shared_memory.ts"))
  };
    const shm = new SharedMemory({ name: Deno.args[0] });
    shm.buf[2] = shm.buf[1] * 2;
    console.log(shm.size);
    shm.close();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      `data:text/javascript,${encodeURIComponent(code)}`,
      shm.name,
    ],
    stderr: "inherit",
  }).output();
  assert.equal(out.success, true);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "16");
  assert.equal(shm.buf[2], 42);
  shm.unlink();
});

Deno.test("SharedMemory: an unrelated deno run attaches to a chosen name, writes, reads and unlinks it", async () => {
  const name = `mp_test_${crypto.randomUUID().slice(0, 8)}`;
  using shm = new SharedMemory({ name, create: true, size: 16 });
  shm.buf[1] = 21;
  const code = `
    import { SharedMemory } from ${
    JSON.stringify(import.meta.resolve("./shared_memory.ts"))
  };
    const shm = new SharedMemory({ name: Deno.args[0] });
    shm.buf[2] = shm.buf[1] * 2;
    shm.unlink();
    console.log(shm.size);
    shm.close();
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      `data:text/javascript,${encodeURIComponent(code)}`,
      name,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const out = await child.output();
    assert.equal(out.success, true);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "16");
    assert.equal(shm.buf[2], 42);
    assert.ok(!devShm().includes(name), "the attacher unlinked the name");
    assert.throws(() => new SharedMemory({ name }), Deno.errors.NotFound);
  } finally {
    try {
      child.kill();
    } catch {
      // It ended already.
    }
  }
});

Deno.test("SharedMemory: without --allow-ffi the error names the flag", async () => {
  const code = `
    import { SharedMemory, SharedMemoryManager } from ${
    JSON.stringify(import.meta.resolve("./shared_memory.ts"))
  };
    try {
      new SharedMemory({ create: true, size: 8 });
    } catch (error) {
      console.log(error.message);
    }
    await new SharedMemoryManager().start().catch((error) => {
      console.log(error.message);
    });
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `data:text/javascript,${encodeURIComponent(code)}`,
    ],
    stderr: "inherit",
  }).output();
  const [block, manager] = new TextDecoder().decode(out.stdout).split("\n");
  assert.match(
    block,
    /^SharedMemory is not available: .*run it with --allow-ffi/,
  );
  assert.match(
    manager,
    /^SharedMemoryManager is not available: .*run it with --allow-ffi/,
  );
});

Deno.test("SharedMemoryManager: shutdown unlinks and closes every block it made, once", async () => {
  const smm = new SharedMemoryManager();
  await smm.start();
  const shm = smm.SharedMemory(16);
  const list = smm.ShareableList(["a", 1]);
  const byHand = smm.SharedMemory(8);
  const other = new SharedMemory({ create: true, size: 8 });
  const attached = new SharedMemory({ name: shm.name });
  try {
    const view = shm.buf;
    attached.buf[3] = 3;
    assert.equal(view[3], 3);
    assert.ok(devShm().includes(shm.name) && devShm().includes(list.shm.name));
    // A block its user unlinked (and closed) is no trouble at shutdown.
    byHand.close();
    byHand.unlink();
    await smm.shutdown();
    for (const name of [shm.name, list.shm.name, byHand.name]) {
      assert.ok(!devShm().includes(name), `${name} left /dev/shm`);
      assert.throws(() => new SharedMemory({ name }), Deno.errors.NotFound);
    }
    assert.equal(view.length, 0, "closed here");
    assert.throws(() => list.get(0), /its block was closed; attach again/);
    assert.equal(attached.buf[3], 3, "an attachment keeps its bytes");
    assert.ok(devShm().includes(other.name), "a block of its own is left");
    await smm.shutdown();
    // Started again, it makes and ends new blocks.
    await smm.start();
    const again = smm.SharedMemory(4);
    await smm[Symbol.asyncDispose]();
    assert.throws(
      () => new SharedMemory({ name: again.name }),
      Deno.errors.NotFound,
    );
  } finally {
    await smm.shutdown();
    attached.close();
    other.close();
    other.unlink();
  }
});

Deno.test("SharedMemoryManager: used before start(), after shutdown() or started twice, it says what to do", async () => {
  const smm = new SharedMemoryManager();
  assert.throws(
    () => smm.SharedMemory(8),
    (error: Error) =>
      error instanceof ProcessError &&
      error.message ===
        "Cannot make a SharedMemory: the SharedMemoryManager is not started; call start() first",
  );
  assert.throws(() => smm.ShareableList([1]), /not started/);
  await smm.shutdown(); // nothing to do
  await smm.start();
  try {
    await assert.rejects(
      smm.start(),
      /Cannot start\(\) the SharedMemoryManager twice/,
    );
    assert.throws(() => smm.SharedMemory(0), RangeError);
    assert.throws(() => smm.ShareableList([{}] as never), TypeError);
  } finally {
    await smm.shutdown();
  }
  assert.throws(
    () => smm.ShareableList([1]),
    (error: Error) =>
      error instanceof ProcessError &&
      /was shut down; call start\(\) again/.test(error.message),
  );
});

const ENDINGS = [
  { ending: "return", mode: "return" },
  { ending: "throw", mode: "throw" },
  { ending: "SIGTERM", mode: "wait" },
  { ending: "SIGINT", mode: "wait" },
  { ending: "SIGHUP", mode: "wait" },
  { ending: "SIGTERM", mode: "block" },
  { ending: "SIGKILL", mode: "wait" },
] as const;

for (
  const [maker, made] of [
    ["SharedMemory", "its maker ends"],
    ["SharedMemoryManager", "the manager's process ends without shutdown"],
  ]
) {
  for (const { ending, mode } of ENDINGS) {
    const how = mode === "block" ? `${ending} while blocked` : ending;
    Deno.test(`${maker}: its name goes when ${made} (${how}), or dangles after SIGKILL until swept`, async () => {
      const chosen = `mp_test_${crypto.randomUUID().slice(0, 8)}`;
      await using program = new ProgramRun(PROGRAM, [
        mode,
        maker === "SharedMemory" ? chosen : "manager",
      ]);
      const name = await program.line() ?? "";
      if (maker === "SharedMemory") assert.equal(name, chosen);
      else assert.match(name, /^psm_/);
      const shm = new SharedMemory({ name });
      try {
        assert.equal(shm.buf[0], 1);
        Atomics.store(new Int32Array(shm.buf.buffer, 0, 2), 1, 1);
        assert.equal(await program.line(), "seen");
        if (ending.startsWith("SIG")) program.kill(ending as Deno.Signal);
        const status = await program.status(10_000);
        assert.ok(status, "the program ended");
        assert.equal(status.success, ending === "return");
        if (ending.startsWith("SIG")) {
          assert.equal(status.signal, ending, "it died of the signal");
        }
        // The bytes stay while attached.
        assert.equal(shm.buf[0], 1);
        if (ending === "SIGKILL") {
          // SIGKILL ends the maker without any cleanup: the name dangles
          // (the memory is the kernel's to free) until swept.
          assert.ok(devShm().includes(name), "the name dangles");
          using next = new SharedMemory({ create: true, size: 1 });
          assert.ok(!devShm().includes(name), "the next maker swept it");
          next.unlink();
        } else {
          // On a signal that ends it, the janitor thread removed it (even
          // while the main thread was blocked).
          assert.ok(!devShm().includes(name), "the name is gone");
        }
        assert.throws(() => new SharedMemory({ name }), Deno.errors.NotFound);
      } finally {
        shm.close();
      }
    });
  }
}

Deno.test("ShareableList: every kind round-trips, in place and in another process", async () => {
  using list = new ShareableList([
    3.25,
    -(2n ** 62n),
    false,
    "héllo",
    new Uint8Array([0, 255]),
    null,
  ]);
  assert.equal(list.length, 6);
  assert.deepEqual([...list], [
    3.25,
    -(2n ** 62n),
    false,
    "héllo",
    new Uint8Array([0, 255]),
    null,
  ]);
  list.set(-1, 1);
  list.set(2, true);
  assert.equal(list.get(5), 1);
  assert.equal(list.get(2), true);
  assert.throws(() => list.get(6), RangeError);
  assert.throws(() => list.set(0, {} as never), TypeError);
  assert.throws(() => list.set(3, "much longer than it was"), RangeError);
  assert.equal(list.get(3), "héllo", "a refused write changes nothing");
  const child = startChild(TARGETS, "subprocess", "appendToList", [list]);
  try {
    assert.equal(await child.join(), 0);
    assert.equal(list.get(0), 4.25);
    assert.equal(list.get(3), "hi");
  } finally {
    if (child.exitCode === null) child.kill();
    await child.join();
    list.shm.unlink();
  }
});
