// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for lock_test.ts (CPython's _TestLock).
import type { Event } from "../event.ts";
import type { Lock, RLock } from "../lock.ts";
import type { Value } from "../shared.ts";

export async function testLockLocked2processes(
  lock: Lock | RLock,
  event: Event,
  res: Value<"b">,
  looked?: Event,
): Promise<void> {
  await lock.acquire();
  res.value = Number(lock.locked()); // Python stores True as 1
  event.set();
  // Not in CPython: the child stays until its parent looked at the lock.
  // Here the lock of a child that ended is freed (README: what differs),
  // where CPython's stays locked forever, so the parent's look would race
  // the child's end.
  await looked?.wait();
}
