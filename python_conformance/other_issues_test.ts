// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The tests of CPython's _test_multiprocessing.py for what this library
// does not have yet, named here so that they are counted: each is ignored
// with the issue that adds what it tests, and is to be ported with it.
//
// Not ported, and not planned (Python's internals or platform, no
// equivalent here): _TestHeap, _TestSharedCTypes (ctypes structures and
// char arrays), _TestFinalize (util.Finalize), _TestImportStar,
// _TestLogging, _TestPollEintr, TestInvalidHandle, TestWait
// (multiprocessing.connection.wait), TestFlags (sys.flags),
// TestForkAwareThreadLock, TestCloseFds, TestIgnoreEINTR (signals),
// TestResourceTracker, TestPoolNotLeakOnFailure (a mocked context),
// TestNamedResource, _TestAtExit, _TestSpawnedSysPath, SemLockTests and
// TestInternalDecorators; the tests left out of the classes that are
// ported are named at the top of their files.
import { BACKENDS } from "./_util.ts";

/** Shared memory: issue 14. */
const SHARED_MEMORY: Record<string, string[]> = {
  _TestSharedMemory: [
    "test_shared_memory_name_with_embedded_null",
    "test_shared_memory_basics",
    "test_shared_memory_recreate",
    "test_invalid_shared_memory_creation",
    "test_shared_memory_pickle_unpickle",
    "test_shared_memory_pickle_unpickle_dead_object",
    "test_shared_memory_across_processes",
    "test_shared_memory_SharedMemoryServer_ignores_sigint",
    "test_shared_memory_SharedMemoryManager_reuses_resource_tracker",
    "test_shared_memory_SharedMemoryManager_basics",
    "test_shared_memory_ShareableList_basics",
    "test_shared_memory_ShareableList_pickling",
    "test_shared_memory_ShareableList_pickling_dead_object",
    "test_shared_memory_cleaned_after_process_termination",
    "test_shared_memory_untracking",
    "test_shared_memory_tracking",
  ],
};

for (const backend of BACKENDS) {
  for (const [cls, tests] of Object.entries(SHARED_MEMORY)) {
    for (const test of tests) {
      Deno.test({
        name: `${backend}: ${cls}.${test}`,
        // Needs SharedMemory, which issue 14 adds.
        ignore: true,
        fn() {},
      });
    }
  }
}
