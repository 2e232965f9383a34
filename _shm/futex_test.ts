// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The one wait module's notify, on both kinds of memory it waits on.
import assert from "node:assert/strict";
import { notify } from "./futex.ts";
import { waitAsync as kernelWaitAsync } from "./ffi/kernel_futex.ts";
import { Segment } from "./ffi/segment.ts";

/** Notifies `cells[index]` until a sleeper is woken; how many were. */
async function notifyUntilWoken(
  cells: Int32Array,
  index: number,
): Promise<number> {
  // The sleeper may not be in the kernel yet: try again until it is.
  for (let i = 0; i < 2000; i++) {
    const woken = notify(cells, index, 1);
    if (woken > 0) return woken;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return 0;
}

Deno.test("futex: notify wakes a sleeper on a SharedArrayBuffer", async () => {
  const cells = new Int32Array(new SharedArrayBuffer(16));
  const sleeping = Atomics.waitAsync(cells, 2, 0, 10_000);
  assert.equal(sleeping.async, true);
  assert.equal(await notifyUntilWoken(cells, 2), 1);
  assert.equal(await sleeping.value, "ok");
});

Deno.test("futex: notify wakes a kernel sleeper on segment memory, where Atomics.notify reaches no one", async () => {
  const segment = Segment.create(4096);
  try {
    const cells = new Int32Array(segment.view(0, 64));
    const sleeping = kernelWaitAsync(cells, 3, 0, 10_000);
    // What a Condition's notify did before: it woke no one, and the waiter
    // slept out its whole slice.
    assert.equal(Atomics.notify(cells, 3, 1), 0);
    assert.equal(await notifyUntilWoken(cells, 3), 1);
    assert.equal(await sleeping, "ok");
    cells.buffer.transfer(0);
  } finally {
    segment.unmap();
  }
});
