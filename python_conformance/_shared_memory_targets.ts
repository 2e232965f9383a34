// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for shared_memory_test.ts (CPython's
// _TestSharedMemory), and the programs its tests run as unrelated
// processes (CPython's `python -c` scripts): run as a main module, this
// file does what Deno.args[0] says.
import { SharedMemory } from "../shared_memory.ts";

/**
 * _TestSharedMemory._attach_existing_shmem_then_write: attaches by name (or
 * takes the block it was passed), writes `binaryData` at its start, and
 * closes it.
 */
export function attachExistingShmemThenWrite(
  shmemNameOrObj: string | SharedMemory,
  binaryData: Uint8Array,
): void {
  const localSms = typeof shmemNameOrObj === "string"
    ? new SharedMemory({ name: shmemNameOrObj })
    : shmemNameOrObj;
  localSms.buf.set(binaryData);
  localSms.close();
}

/**
 * test_shared_memory_cleaned_after_process_termination's script: makes a
 * block of 10 bytes, prints its name, and sleeps 100 s.
 */
async function makeThenSleep(): Promise<void> {
  const sm = new SharedMemory({ create: true, size: 10 });
  console.log(sm.name);
  await new Promise((resolve) => setTimeout(resolve, 100_000));
}

/**
 * test_shared_memory_untracking's and test_shared_memory_tracking's script:
 * attaches to the block `name` with `track` as given, and closes it.
 */
function attachThenClose(name: string, track: boolean): void {
  const mem = new SharedMemory({ name, track });
  mem.close();
}

if (import.meta.main) {
  const [what, name, track] = Deno.args;
  if (what === "make-then-sleep") await makeThenSleep();
  else if (what === "attach-then-close") {
    attachThenClose(name, track === "track");
  } else throw new TypeError(`Unknown program ${what}`);
}
