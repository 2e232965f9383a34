// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for shared_memory_test.ts (CPython's
// _TestSharedMemory), and the programs its tests run as unrelated
// processes (CPython's `python -c` scripts): run as a main module, this
// file does what Deno.args[0] says.
import { SharedMemory, SharedMemoryManager } from "../shared_memory.ts";

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

/** Python's `range(n)`. */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * test_shared_memory_SharedMemoryManager_reuses_resource_tracker's script:
 * starts a manager, makes a list through it, and shuts it down (here it
 * prints the list's name too, for the test to check that it went).
 */
async function managerThenShutdown(): Promise<void> {
  const smm = new SharedMemoryManager();
  await smm.start();
  const sl = smm.ShareableList(range(10));
  console.log(sl.shm.name);
  await smm.shutdown();
}

/**
 * test_shared_memory_SharedMemoryServer_ignores_sigint, the side of the
 * process that holds the manager: makes a list and prints its name, lets a
 * first SIGINT through a listener of its own (the process lives on, as
 * Python's server does), makes a second list and prints its name, and then
 * leaves SIGINT to its default, ending the process.
 */
async function managerThroughSigint(): Promise<void> {
  const smm = new SharedMemoryManager();
  await smm.start();
  const sl = smm.ShareableList(range(10));
  const interrupted = Promise.withResolvers<void>();
  const listener = () => interrupted.resolve();
  Deno.addSignalListener("SIGINT", listener);
  console.log(sl.shm.name);
  await interrupted.promise;
  Deno.removeSignalListener("SIGINT", listener);
  const sl2 = smm.ShareableList(range(10));
  console.log(sl2.shm.name);
  // Alive until a SIGINT ends it.
  setInterval(() => {}, 1000);
}

if (import.meta.main) {
  const [what, name, track] = Deno.args;
  if (what === "make-then-sleep") await makeThenSleep();
  else if (what === "attach-then-close") {
    attachThenClose(name, track === "track");
  } else if (what === "manager-then-shutdown") await managerThenShutdown();
  else if (what === "manager-through-sigint") await managerThroughSigint();
  else throw new TypeError(`Unknown program ${what}`);
}
