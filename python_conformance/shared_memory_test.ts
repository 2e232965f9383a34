// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestSharedMemory, ported (see _util.ts for how).
// `shared_memory.SharedMemory(name, create, size)` is
// `new SharedMemory({ name, create, size })` and `ShareableList(seq, name=)`
// is `new ShareableList(seq, { name })` (attaching: `null` for the
// sequence); `sl[i]` is `get(i)` / `set(i, v)`, `len(sl)` is `length`,
// `str(x)` is `Deno.inspect(x)`. Python's exceptions: `FileNotFoundError`
// is `Deno.errors.NotFound`, `FileExistsError` `Deno.errors.AlreadyExists`,
// `IndexError` and a `ValueError` for a bad size or a value not found
// `RangeError`; a `ValueError` for a name that is missing or malformed is
// `TypeError` here, as for every bad name in this library (a start
// method's). `pickle.dumps` / `pickle.loads` is what passing in a child's
// args does: the wire form (`encode` of _wire.ts, structurally cloned, then
// `decode`); CPython's loop over pickle protocols is one encoding, for the
// backend's children.
//
// Left out, with no equivalent: `unittest.mock.patch` of
// `_make_filename` becomes a stub of `crypto.getRandomValues`, which makes
// the random part of a name; the tests' names end with the pid, as
// `_new_shm_name` makes them, and fit the library's `psm_` + 8 hex digits
// where the random name is stubbed. Setting the private `_name` (in
// test_shared_memory_name_with_embedded_null), the subclass that sets the
// private `_flags` to attach or create (in test_shared_memory_basics), the
// struct format strings of a ShareableList (`format`,
// `_get_packing_format`: its layout is the library's own) are Python's
// internals. `ShareableList()` with no items is `new ShareableList([])`.
// What CPython reads of its resource tracker's warnings on stderr is the
// tracker's own text: the port checks what the warning reports (the name
// was or was not unlinked) instead. `multiprocessing.managers.
// SharedMemoryManager()` is `new SharedMemoryManager()` of
// shared_memory.ts, `start()` and `shutdown()` awaited, a `with` block an
// `await using` one after `await start()`; making a block before `start()`
// throws ProcessError (Python's ValueError), as a Manager's does. It has no
// server process (its blocks are made in its own process, whose end
// unlinks them): test_shared_memory_SharedMemoryServer_ignores_sigint
// sends its SIGINTs to a program that holds the manager, which listens
// for the first itself (the manager keeps working) and dies of the
// second (as Python's parent gets its KeyboardInterrupt), its blocks
// unlinked; test_shared_memory_SharedMemoryManager_reuses_resource_tracker
// checks, beside the empty stderr, that the list's name is gone.
import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { getContext } from "../context.ts";
import {
  ShareableList,
  SharedMemory,
  SharedMemoryManager,
} from "../shared_memory.ts";
import { ProcessError } from "../errors.ts";
import { decode, encode, wireContext } from "../_wire.ts";
import { ProgramRun } from "../_test_util.ts";
import { attachExistingShmemThenWrite } from "./_shared_memory_targets.ts";
import { BACKENDS, latin, LONG_TIMEOUT, sleep, testScope } from "./_util.ts";
import type { Backend } from "./_util.ts";

const PROGRAMS = new URL("./_shared_memory_targets.ts", import.meta.url);

/** _new_shm_name: the prefix and this process's pid. */
function newShmName(prefix: string): string {
  return prefix + Deno.pid;
}

/**
 * The random part of a `psm_` name, for a stubbed `_make_filename`: the
 * test's number and this process's pid (below 2^24 on Linux).
 */
function stubToken(test: number): Uint8Array {
  const pid = Deno.pid & 0xffffff;
  return Uint8Array.of(test, pid >> 16, (pid >> 8) & 0xff, pid & 0xff);
}

/** The name a block gets when its random part is `token`. */
function nameOfToken(token: Uint8Array): string {
  return "psm_" + [...token].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * `unittest.mock.patch('..._make_filename')` with `side_effect = names`:
 * until disposed, the random bytes of each new name are the next of
 * `tokens` (then random again).
 */
function stubMakeFilename(tokens: Uint8Array[]): Disposable {
  const original = crypto.getRandomValues;
  let next = 0;
  crypto.getRandomValues = (<T extends ArrayBufferView>(array: T) => {
    if (
      array instanceof Uint8Array && array.length === 4 &&
      next < tokens.length
    ) {
      array.set(tokens[next++]);
      return array;
    }
    return original.call(crypto, array);
  }) as typeof crypto.getRandomValues;
  return {
    [Symbol.dispose]() {
      crypto.getRandomValues = original;
    },
  };
}

/** `pickle.loads(pickle.dumps(value))`, as a child's args carry it. */
function pickleDumps(value: unknown, backend: Backend): unknown {
  return structuredClone(encode(value, wireContext(backend)));
}

function pickleLoads<T>(pickled: unknown): Promise<T> {
  return decode(structuredClone(pickled)) as Promise<T>;
}

/** Runs `deno run --allow-ffi` of one of the programs, to its end. */
async function runProgram(
  args: string[],
): Promise<{ status: Deno.CommandStatus | null; stderr: string }> {
  await using program = new ProgramRun(PROGRAMS, args, {
    flags: ["--allow-ffi"],
  });
  const status = await program.status(LONG_TIMEOUT);
  const stderr = status ? await program.stderr() : "";
  return { status, stderr };
}

/**
 * Runs the program of
 * test_shared_memory_SharedMemoryManager_reuses_resource_tracker to its end.
 */
async function runManagerProgram(): Promise<
  { status: Deno.CommandStatus | null; stderr: string; name: string }
> {
  await using program = new ProgramRun(PROGRAMS, ["manager-then-shutdown"], {
    flags: ["--allow-ffi"],
  });
  const name = (await program.line())?.trim() ?? "";
  const status = await program.status(LONG_TIMEOUT);
  const stderr = status ? await program.stderr() : "";
  return { status, stderr, name };
}

/** Whether a block named `name` can be attached (and detaches it). */
function attachable(name: string): boolean {
  try {
    new SharedMemory({ name }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

for (const backend of BACKENDS) {
  const mp = getContext(backend);
  const test = (name: string, fn: () => void | Promise<void>) =>
    Deno.test(`${backend}: _TestSharedMemory.${name}`, fn);

  /**
   * The mocked part of test_shared_memory_basics and
   * test_shared_memory_recreate: a new block whose random name is taken
   * gets another.
   */
  const recreate = (first: number, second: number) => {
    const tokens = [stubToken(first), stubToken(second)];
    const names = tokens.map(nameOfToken);
    const made: SharedMemory[] = [];
    try {
      {
        using _ = stubMakeFilename(tokens);
        made.push(new SharedMemory({ create: true, size: 1 }));
        assert.equal(made[0].name, names[0]);
      }
      {
        using _ = stubMakeFilename(tokens);
        made.push(new SharedMemory({ create: true, size: 1 }));
        assert.equal(made[1].name, names[1]);
      }
    } finally {
      for (const shm of made) shm.unlink();
    }
  };

  test("test_shared_memory_name_with_embedded_null", () => {
    const nameTsmb = newShmName("test01_null");
    const sms = new SharedMemory({ name: nameTsmb, create: true, size: 512 });
    try {
      assert.throws(
        () => new SharedMemory({ name: nameTsmb + "\0a", size: 512 }),
        TypeError,
      );
    } finally {
      sms.unlink();
    }
  });

  test("test_shared_memory_basics", () => {
    const nameTsmb = newShmName("test01_tsmb");
    const sms = new SharedMemory({ name: nameTsmb, create: true, size: 512 });
    try {
      // Verify attributes are readable.
      assert.equal(sms.name, nameTsmb);
      assert.ok(sms.size >= 512);
      assert.ok(sms.buf.length >= sms.size);

      // Verify __repr__
      assert.ok(Deno.inspect(sms).includes(sms.name));
      assert.ok(Deno.inspect(sms).includes(String(sms.size)));

      // Modify contents of shared memory segment through memoryview.
      sms.buf[0] = 42;
      assert.equal(sms.buf[0], 42);

      // Attach to existing shared memory segment.
      const alsoSms = new SharedMemory({ name: nameTsmb });
      assert.equal(alsoSms.buf[0], 42);
      alsoSms.close();

      // Attach to existing shared memory segment but specify a new size.
      const sameSms = new SharedMemory({ name: nameTsmb, size: 20 * sms.size });
      assert.ok(sameSms.size < 20 * sms.size); // Size was ignored.
      sameSms.close();

      // Creating Shared Memory Segment with -ve size
      assert.throws(
        () => new SharedMemory({ create: true, size: -2 }),
        RangeError,
      );

      // Attaching Shared Memory Segment without a name
      assert.throws(() => new SharedMemory({ create: false }), TypeError);

      // Test if shared memory segment is created properly,
      // when _make_filename returns an existing shared memory segment name
      recreate(1, 2);

      // Posix Shared Memory can only be unlinked once.
      const nameDblunlink = newShmName("test01_dblunlink");
      const smsUno = new SharedMemory({
        name: nameDblunlink,
        create: true,
        size: 5000,
      });
      assert.throws(() => {
        try {
          assert.ok(smsUno.size >= 5000);

          const smsDuo = new SharedMemory({ name: nameDblunlink });
          smsDuo.unlink(); // First shm_unlink() call.
          smsDuo.close();
          smsUno.close();
        } finally {
          smsUno.unlink(); // A second shm_unlink() call is bad.
        }
      }, Deno.errors.NotFound);

      // Attempting to create a new shared memory segment with a
      // name that is already in use triggers an exception.
      assert.throws(
        () => new SharedMemory({ name: nameTsmb, create: true, size: 512 }),
        Deno.errors.AlreadyExists,
      );

      // Attempting to attach to an existing shared memory segment when
      // no segment exists with the supplied name triggers an exception.
      assert.throws(() => {
        const nonexistingSms = new SharedMemory({ name: "test01_notthere" });
        nonexistingSms.unlink(); // Error should occur on prior line.
      }, Deno.errors.NotFound);

      sms.close();
    } finally {
      sms.unlink();
    }
  });

  test("test_shared_memory_recreate", () => {
    // Test if shared memory segment is created properly,
    // when _make_filename returns an existing shared memory segment name
    recreate(3, 4);
  });

  test("test_invalid_shared_memory_creation", () => {
    // Test creating a shared memory segment with negative size
    assert.throws(
      () => new SharedMemory({ create: true, size: -1 }),
      RangeError,
    );

    // Test creating a shared memory segment with size 0
    assert.throws(
      () => new SharedMemory({ create: true, size: 0 }),
      RangeError,
    );

    // Test creating a shared memory segment without size argument
    assert.throws(() => new SharedMemory({ create: true }), RangeError);
  });

  test("test_shared_memory_pickle_unpickle", async () => {
    const sms = new SharedMemory({ create: true, size: 512 });
    try {
      sms.buf.set(latin("pickle"));

      // Test pickling
      const pickledSms = pickleDumps(sms, backend);

      // Test unpickling
      const sms2 = await pickleLoads<SharedMemory>(pickledSms);
      assert.ok(sms2 instanceof SharedMemory);
      assert.equal(sms.name, sms2.name);
      assert.deepEqual(sms.buf.slice(0, 6), latin("pickle"));
      assert.deepEqual(sms2.buf.slice(0, 6), latin("pickle"));

      // Test that unpickled version is still the same SharedMemory
      sms.buf.set(latin("newval"));
      assert.deepEqual(sms.buf.slice(0, 6), latin("newval"));
      assert.deepEqual(sms2.buf.slice(0, 6), latin("newval"));

      sms2.buf.set(latin("oldval"));
      assert.deepEqual(sms.buf.slice(0, 6), latin("oldval"));
      assert.deepEqual(sms2.buf.slice(0, 6), latin("oldval"));
      sms2.close();
    } finally {
      sms.unlink();
    }
  });

  test("test_shared_memory_pickle_unpickle_dead_object", async () => {
    const sms = new SharedMemory({ create: true, size: 512 });
    sms.buf.set(latin("pickle"));
    const pickledSms = pickleDumps(sms, backend);

    // Now, we are going to kill the original object.
    // So, unpickled one won't be able to attach to it.
    sms.close();
    sms.unlink();

    await assert.rejects(pickleLoads(pickledSms), Deno.errors.NotFound);
  });

  test("test_shared_memory_across_processes", async () => {
    await using _ = testScope();
    // bpo-40135: don't define shared memory block's name in case of
    // the failure when we run multiprocessing tests in parallel.
    const sms = new SharedMemory({ create: true, size: 512 });
    try {
      // Verify remote attachment to existing block by name is working.
      let p = new mp.Process({
        target: attachExistingShmemThenWrite,
        args: [sms.name, latin("howdy")],
      });
      p.daemon = true;
      p.start();
      await p.join();
      assert.deepEqual(sms.buf.slice(0, 5), latin("howdy"));

      // Verify pickling of SharedMemory instance also works.
      p = new mp.Process({
        target: attachExistingShmemThenWrite,
        args: [sms, latin("HELLO")],
      });
      p.daemon = true;
      p.start();
      await p.join();
      assert.deepEqual(sms.buf.slice(0, 5), latin("HELLO"));

      sms.close();
    } finally {
      sms.unlink();
    }
  });

  test("test_shared_memory_SharedMemoryServer_ignores_sigint", async () => {
    // bpo-36368: protect SharedMemoryManager server process from
    // KeyboardInterrupt signals.
    // Python's server is a process of its own; here the manager lives in
    // the process that made it, which runs as a program: a SIGINT that
    // the program listens for leaves the manager working, and one it does
    // not ends it, with the manager's blocks.
    await using p = new ProgramRun(PROGRAMS, ["manager-through-sigint"]);

    // make sure the manager works properly at the beginning
    const sl = (await p.line())?.trim() ?? "";
    assert.match(sl, /^psm_/);

    // the manager should ignore KeyboardInterrupt signals, and success
    // when asked to deliver memory segments.
    p.kill("SIGINT");
    const sl2 = (await p.line())?.trim() ?? "";
    assert.match(sl2, /^psm_/);
    assert.ok(attachable(sl) && attachable(sl2));

    // test that the manager does not affect signal handling in the
    // process: a SIGINT still ends it.
    p.kill("SIGINT");
    const status = await p.status(LONG_TIMEOUT);
    assert.equal(status?.signal, "SIGINT");

    // smm.shutdown(): here, the end of its process unlinked the blocks.
    assert.equal(attachable(sl), false);
    assert.equal(attachable(sl2), false);
  });

  test(
    "test_shared_memory_SharedMemoryManager_reuses_resource_tracker",
    async () => {
      // bpo-36867: test that a SharedMemoryManager uses the
      // same resource_tracker process as its parent.
      const { status, stderr, name } = await runManagerProgram();

      // Before bpo-36867 was fixed, a SharedMemoryManager not using the same
      // resource_tracker process as its parent would make the parent's
      // tracker complain about sl being leaked even though smm.shutdown()
      // properly released sl.
      assert.equal(status?.code, 0);
      assert.equal(stderr, "");
      // No resource tracker here: the name is gone.
      assert.match(name, /^psm_/);
      assert.equal(attachable(name), false);
    },
  );

  test("test_shared_memory_SharedMemoryManager_basics", async () => {
    const smm1 = new SharedMemoryManager();
    assert.throws(() => smm1.SharedMemory(9), ProcessError); // Fails if SharedMemoryServer not started
    await smm1.start();
    const attached: SharedMemory[] = [];
    try {
      const lol = [5, 6, 7, 8, 9].map((i) =>
        smm1.ShareableList(Array.from({ length: i }, (_, k) => k))
      );
      const lom: SharedMemory[] = [];
      for (let j = 32; j < 128; j += 16) lom.push(smm1.SharedMemory(j));
      const dopplegangerList0 = new ShareableList(null, {
        name: lol[0].shm.name,
      });
      attached.push(dopplegangerList0.shm);
      assert.equal(dopplegangerList0.length, 5);
      const dopplegangerShm0 = new SharedMemory({ name: lom[0].name });
      attached.push(dopplegangerShm0);
      assert.ok(dopplegangerShm0.buf.length >= 32);
      const heldName = lom[0].name;
      await smm1.shutdown();
      assert.throws(
        // No longer there to be attached to again.
        () => new SharedMemory({ name: heldName }),
        Deno.errors.NotFound,
      );
    } finally {
      await smm1.shutdown();
      for (const shm of attached) shm.close();
    }

    let heldName: string;
    {
      await using smm2 = new SharedMemoryManager();
      await smm2.start();
      const sl = smm2.ShareableList("howdy");
      const shm = smm2.SharedMemory(128);
      assert.equal(shm.size, 128);
      heldName = sl.shm.name;
    }
    assert.throws(
      // No longer there to be attached to again.
      () => new ShareableList(null, { name: heldName }),
      Deno.errors.NotFound,
    );
  });

  test("test_shared_memory_ShareableList_basics", () => {
    const sl = new ShareableList(
      ["howdy", latin("HoWdY"), -273.154, 100, null, true, 42],
    );
    try {
      // Verify __repr__
      assert.ok(Deno.inspect(sl).includes(sl.shm.name));
      assert.ok(Deno.inspect(sl).includes(Deno.inspect([...sl])));

      // Index Out of Range (get)
      assert.throws(() => sl.get(7), RangeError);

      // Index Out of Range (set)
      assert.throws(() => sl.set(7, 2), RangeError);

      // Assign value without format change (str -> str)
      sl.set(0, "howdy");

      // Exercise len().
      assert.equal(sl.length, 7);

      // Exercise index().
      assert.throws(() => sl.index("100"), RangeError);
      assert.equal(sl.index(100), 3);

      // Exercise retrieving individual values.
      assert.equal(sl.get(0), "howdy");
      assert.equal(sl.get(-2), true);

      // Exercise iterability.
      assert.deepEqual(
        [...sl],
        ["howdy", latin("HoWdY"), -273.154, 100, null, true, 42],
      );

      // Exercise modifying individual values.
      sl.set(3, 42);
      assert.equal(sl.get(3), 42);
      sl.set(4, "some"); // Change type at a given position.
      assert.equal(sl.get(4), "some");
      assert.throws(() => sl.set(4, "far too many"), RangeError);
      assert.equal(sl.get(4), "some");
      sl.set(0, "encodés"); // Exactly 8 bytes of UTF-8 data
      assert.equal(sl.get(0), "encodés");
      assert.deepEqual(sl.get(1), latin("HoWdY")); // no spillage
      assert.throws(() => sl.set(0, "encodées"), RangeError); // 9 bytes
      assert.deepEqual(sl.get(1), latin("HoWdY"));
      assert.throws(() => sl.set(1, latin("123456789")), RangeError);
      assert.deepEqual(sl.get(1), latin("HoWdY"));

      // Exercise count().
      assert.equal(sl.count(42), 2);
      assert.equal(sl.count(latin("HoWdY")), 1);
      assert.equal(sl.count(latin("adios")), 0);

      // Exercise creating a duplicate.
      const nameDuplicate = newShmName("test03_duplicate");
      const slCopy = new ShareableList(sl, { name: nameDuplicate });
      try {
        assert.notEqual(sl.shm.name, slCopy.shm.name);
        assert.equal(nameDuplicate, slCopy.shm.name);
        assert.deepEqual([...sl], [...slCopy]);
        slCopy.set(-1, 77);
        assert.equal(slCopy.get(-1), 77);
        assert.notEqual(sl.get(-1), 77);
        slCopy.shm.close();
      } finally {
        slCopy.shm.unlink();
      }

      // Obtain a second handle on the same ShareableList.
      const slTethered = new ShareableList(null, { name: sl.shm.name });
      assert.equal(sl.shm.name, slTethered.shm.name);
      slTethered.set(-1, 880);
      assert.equal(sl.get(-1), 880);
      slTethered.shm.close();

      sl.shm.close();
    } finally {
      sl.shm.unlink();
    }

    // Exercise creating an empty ShareableList.
    const emptySl = new ShareableList([]);
    try {
      assert.equal(emptySl.length, 0);
      assert.equal(emptySl.count("any"), 0);
      assert.throws(() => emptySl.index(null), RangeError);
      emptySl.shm.close();
    } finally {
      emptySl.shm.unlink();
    }
  });

  test("test_shared_memory_ShareableList_pickling", async () => {
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    const sl = new ShareableList(range(10));
    const larger = new ShareableList(range(400));
    try {
      const serializedSl = pickleDumps(sl, backend);
      const deserializedSl = await pickleLoads<ShareableList>(serializedSl);
      assert.ok(deserializedSl instanceof ShareableList);
      assert.equal(deserializedSl.get(-1), 9);
      assert.notEqual(sl, deserializedSl);

      deserializedSl.set(4, "changed");
      assert.equal(sl.get(4), "changed");
      sl.set(3, "newvalue");
      assert.equal(deserializedSl.get(3), "newvalue");

      const serializedLargerSl = pickleDumps(larger, backend);
      assert.equal(
        serialize(serializedSl).length,
        serialize(serializedLargerSl).length,
      );
      larger.shm.close();

      deserializedSl.shm.close();
      sl.shm.close();
    } finally {
      sl.shm.unlink();
      larger.shm.unlink();
    }
  });

  test("test_shared_memory_ShareableList_pickling_dead_object", async () => {
    const range = Array.from({ length: 10 }, (_, i) => i);
    const sl = new ShareableList(range);
    const serializedSl = pickleDumps(sl, backend);

    // Now, we are going to kill the original object.
    // So, unpickled one won't be able to attach to it.
    sl.shm.close();
    sl.shm.unlink();

    await assert.rejects(pickleLoads(serializedSl), Deno.errors.NotFound);
  });

  test("test_shared_memory_cleaned_after_process_termination", async () => {
    await using p = new ProgramRun(PROGRAMS, ["make-then-sleep"], {
      flags: ["--allow-ffi"],
    });
    const name = (await p.line())?.trim() ?? "";
    assert.match(name, /^psm_/);

    // killing abruptly processes holding reference to a shared memory
    // segment should not leak the given memory segment.
    p.kill("SIGTERM");
    assert.ok(await p.status(LONG_TIMEOUT), "the program ended");

    // support.sleeping_retry(LONG_TIMEOUT): until attaching fails.
    const deadline = Date.now() + LONG_TIMEOUT;
    for (let delay = 1; attachable(name); delay = Math.min(2 * delay, 1000)) {
      assert.ok(
        Date.now() < deadline,
        "A SharedMemory segment was leaked after a process was abruptly terminated",
      );
      await sleep(delay);
    }
  });

  test("test_shared_memory_untracking", async () => {
    // gh-82300: When a separate process accesses shared memory with
    // track: false, it must not cause the memory to be deleted when
    // terminating.
    const mem = new SharedMemory({ create: true, size: 10 });
    try {
      const { status, stderr } = await runProgram([
        "attach-then-close",
        mem.name,
        "untracked",
      ]);
      assert.equal(stderr, "");
      assert.equal(status?.code, 0);
      const mem2 = new SharedMemory({ name: mem.name });
      mem2.close();
    } finally {
      try {
        mem.unlink();
      } catch {
        // as CPython's `except OSError: pass`
      }
      mem.close();
    }
  });

  test("test_shared_memory_tracking", async () => {
    // gh-82300: When a separate process accesses shared memory with
    // track: true, it must cause the memory to be deleted when
    // terminating.
    const mem = new SharedMemory({ create: true, size: 10 });
    try {
      const { status } = await runProgram([
        "attach-then-close",
        mem.name,
        "track",
      ]);
      assert.equal(status?.code, 0);
      // CPython reads its resource tracker's warning that it unlinked the
      // name: here, the name is gone.
      assert.equal(attachable(mem.name), false);
    } finally {
      try {
        mem.unlink();
      } catch {
        // as CPython's `except OSError: pass`
      }
      mem.close();
    }
  });
}
