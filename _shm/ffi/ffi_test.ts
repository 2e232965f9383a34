// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The FFI layer alone: segments, the kernel futex, the self-test, and two
// OS processes on one segment.
import assert from "node:assert/strict";
import { Segment } from "./segment.ts";
import { notify, waitAsync, waitSync } from "./kernel_futex.ts";
import { ffiSupport } from "./self_check.ts";

Deno.test("ffi: the self-test passes where FFI is granted", () => {
  assert.deepEqual(ffiSupport(), { ok: true });
});

Deno.test("ffi: a segment is zeroed, and a second mapping sees the first's writes", () => {
  const made = Segment.create(8192);
  const other = Segment.attach(made.locator);
  try {
    assert.equal(other.size, 8192);
    const a = new Uint8Array(made.view());
    const b = new Uint8Array(other.view(4096, 16));
    assert.equal(a.every((byte) => byte === 0), true);
    a[4096 + 3] = 42;
    assert.equal(b[3], 42);
    a.buffer.transfer(0);
    b.buffer.transfer(0);
  } finally {
    made.unmap();
    other.unmap();
  }
});

Deno.test("ffi: a view out of bounds is a RangeError, and a closed descriptor has no locator", () => {
  const segment = Segment.create(4096);
  try {
    assert.throws(() => segment.view(4000, 200), RangeError);
    segment.closeDescriptor();
    assert.throws(() => segment.locator, /descriptor was closed/);
  } finally {
    segment.unmap();
  }
  assert.throws(() => segment.view(), /after unmapping/);
});

Deno.test("ffi: attaching a locator that names nothing says so", () => {
  assert.throws(
    () => Segment.attach(`/proc/${Deno.pid}/fd/100000`),
    /Cannot open the shared memory at .*: it does not exist/,
  );
});

Deno.test("ffi: the futex compares, times out, and wakes a sleeper of another thread", async () => {
  const segment = Segment.create(4096);
  try {
    const cells = new Int32Array(segment.view(0, 64));
    assert.equal(waitSync(cells, 3, 1, 100), "not-equal");
    const started = performance.now();
    assert.equal(waitSync(cells, 3, 0, 20), "timed-out");
    assert.ok(performance.now() - started >= 15);
    // An async sleeper (on a thread of Deno's pool) woken by this thread.
    const sleeping = waitAsync(cells, 5, 0, 10_000);
    let woken = 0;
    for (let i = 0; i < 2000 && woken === 0; i++) {
      Atomics.store(cells, 5, 1);
      woken = notify(cells, 5, 1);
      if (woken === 0) {
        Atomics.store(cells, 5, 0);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    assert.equal(woken, 1);
    assert.equal(await sleeping, "ok");
    cells.buffer.transfer(0);
  } finally {
    segment.unmap();
  }
});

const CHILD = `
import { Segment } from ${JSON.stringify(import.meta.resolve("./segment.ts"))};
import { notify, waitSync } from ${
  JSON.stringify(import.meta.resolve("./kernel_futex.ts"))
};
const segment = Segment.attach(Deno.args[0]);
const cells = new Int32Array(segment.view(0, 16));
for (let i = 0; i < 100_000; i++) Atomics.add(cells, 0, 1);
Atomics.store(cells, 1, 1);
notify(cells, 1, 1);
// Wait for the parent's answer, which wakes this process.
while (Atomics.load(cells, 2) === 0) waitSync(cells, 2, 0, 1000);
`;

Deno.test("ffi: two OS processes add atomically on one segment and wake each other", async () => {
  const segment = Segment.create(4096);
  const cells = new Int32Array(segment.view(0, 16));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      `data:text/javascript,${encodeURIComponent(CHILD)}`,
      segment.locator,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  try {
    for (let i = 0; i < 100_000; i++) Atomics.add(cells, 0, 1);
    while (Atomics.load(cells, 1) === 0) waitSync(cells, 1, 0, 1000);
    Atomics.store(cells, 2, 1);
    notify(cells, 2, 1);
    assert.equal((await child.status).code, 0);
    assert.equal(Atomics.load(cells, 0), 200_000);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended
    }
    await child.status;
    cells.buffer.transfer(0);
    segment.unmap();
  }
});
