// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children of shm_primitives_test.ts.
import { Process } from "../process.ts";
import type { SharedArray, Value } from "../shared.ts";
import type { Barrier } from "../barrier.ts";
// Loaded with the target: a child without read permission cannot import
// the module that revives a Barrier later.
import "../barrier.ts";
import { inSegment } from "../_shm/memory.ts";

/** `times` increments of `counter` under its lock. */
export function increment(counter: Value<"i32">, times: number): void {
  const lock = counter.getLock();
  for (let i = 0; i < times; i++) {
    lock.acquireSync();
    try {
      counter.value += 1;
    } finally {
      lock.release();
    }
  }
}

/** Sets `where[0]` to 1 when `arr` reached this process in shared memory. */
export function reportMemory(arr: SharedArray<"i32">): void {
  arr.set(0, inSegment(arr.array.buffer) ? 1 : 2);
}

/** Increments here and in a subprocess child of this child, at once. */
export async function incrementWithGrandchild(
  counter: Value<"i32">,
  times: number,
): Promise<void> {
  const grandchild = new Process({
    target: increment,
    args: [counter, times],
    backend: "subprocess",
  });
  grandchild.start();
  increment(counter, times);
  await grandchild.join();
  if (grandchild.exitCode !== 0) {
    throw new Error(`The grandchild ended with ${grandchild.exitCode}`);
  }
}

/** Waits at `barrier`, with `waitSync` when `sync`; writes the index to `where[slot]`. */
export async function waitAtBarrier(
  barrier: Barrier,
  where: SharedArray<"i32">,
  slot: number,
  sync: boolean,
): Promise<void> {
  where.set(slot, sync ? barrier.waitSync() : await barrier.wait());
}
