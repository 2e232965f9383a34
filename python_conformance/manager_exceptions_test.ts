// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestManagerExceptions (issue 106558: an exception a manager
// raises makes no reference cycle), named here; neither test can apply.
//
// Both turn the garbage collector off, catch queue.Empty (from a manager's
// Queue.get_nowait(), and from managers.dispatch() given a fake connection)
// and check that a weakref to it is dead at once: that the exception was
// freed by reference counting alone. JavaScript has no reference counting:
// an object is freed only by a collection, and a WeakRef is cleared only
// after one, never while the code that made the object still runs, so
// there is nothing to observe. (That get_nowait() on an empty manager
// Queue throws Empty is checked in the library's manager_test.ts.)
import { BACKENDS } from "./_util.ts";

for (const backend of BACKENDS) {
  Deno.test({
    name: `${backend}: TestManagerExceptions.test_queue_get`,
    // A WeakRef is cleared only by a garbage collection (see above).
    ignore: true,
    fn() {},
  });

  Deno.test({
    name: `${backend}: TestManagerExceptions.test_dispatch`,
    // managers.dispatch() is CPython's internal helper of its proxies,
    // and a WeakRef is cleared only by a garbage collection (see above).
    ignore: true,
    fn() {},
  });
}
