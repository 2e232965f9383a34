// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Whether this process can share memory with other OS processes, found
// once by trying: libc opens, a segment maps twice (as another process
// would map it), an atomic write through one mapping is seen through the
// other, and the futex call answers as the kernel's does. Anything that
// fails makes the answer "no, because ...", never an error later.
import { libc } from "./libc.ts";
import { Segment } from "./segment.ts";
import { notify, waitSync } from "./kernel_futex.ts";

/** The outcome of the self-test. */
export type Support = { ok: true } | { ok: false; reason: string };

let support: Support | undefined;

/** Whether shared memory through FFI works here, tried once. */
export function ffiSupport(): Support {
  return support ??= selfTest();
}

function selfTest(): Support {
  const lib = libc();
  if (!lib.ok) return lib;
  let first: Segment | undefined;
  let second: Segment | undefined;
  try {
    first = Segment.create(4096, "multiprocessing self-test");
    second = Segment.attach(first.locator);
    const a = new Int32Array(first.view(0, 16));
    const b = new Int32Array(second.view(0, 16));
    Atomics.store(a, 0, 7);
    if (Atomics.compareExchange(b, 0, 7, 8) !== 7 || Atomics.load(a, 0) !== 8) {
      return fail("a write through one mapping is not seen through another");
    }
    if (Atomics.add(b, 1, 3) !== 0 || Atomics.load(a, 1) !== 3) {
      return fail("atomic additions are not shared");
    }
    if (waitSync(a, 0, 5, 1000) !== "not-equal") {
      return fail("the futex call does not compare the word");
    }
    if (waitSync(a, 0, 8, 1) !== "timed-out") {
      return fail("the futex call does not time out");
    }
    if (notify(b, 0, 1) !== 0) return fail("the futex call woke no one");
    // Views must go before the mappings do.
    a.buffer.transfer(0);
    b.buffer.transfer(0);
    return { ok: true };
  } catch (error) {
    return fail((error as Error).message);
  } finally {
    first?.unmap();
    second?.unmap();
  }
}

function fail(why: string): Support {
  return {
    ok: false,
    reason: `the shared memory self-test failed (${why})`,
  };
}
