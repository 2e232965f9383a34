// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children of shared_memory_test.ts.
import type { ShareableList, SharedMemory } from "../shared_memory.ts";

/** Adds 1 to the first Int32 of `shm` `times` times, atomically. */
export function addMany(shm: SharedMemory, times: number): void {
  const cells = new Int32Array(shm.buf.buffer, 0, 1);
  for (let i = 0; i < times; i++) Atomics.add(cells, 0, 1);
  shm.close();
}

/** Changes a ShareableList it was passed. */
export function appendToList(list: ShareableList): void {
  list.set(0, (list.get(0) as number) + 1);
  list.set(3, "hi");
  list.shm.close();
}
