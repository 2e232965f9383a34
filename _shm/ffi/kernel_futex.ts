// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// `Atomics.wait`, `waitAsync` and `notify` for memory that is not a
// `SharedArrayBuffer` (a segment.ts mapping, which processes share): the
// futex system call, non-private so that it works across processes. Only
// _shm/futex.ts calls these; it picks them for such memory.
//
// The sync wait blocks the calling thread in the kernel (`nonblocking:
// false`). The async wait runs the same call on a thread of Deno's pool: it
// costs tens of microseconds more, which is why futex.ts spins and blocks
// briefly before it parks.
import { futexCall, SYS_FUTEX_NUMBER } from "./libc.ts";

const FUTEX_WAIT = 0;
const FUTEX_WAKE = 1;

/** What `Atomics.wait` returns. */
export type WaitResult = "ok" | "not-equal" | "timed-out";

// The address of each word waited on or notified, made once per word: a
// notify comes with every put or release that finds a sleeper.
const addresses = new WeakMap<Int32Array, Deno.PointerValue[]>();

/** The address of `cells[index]`. */
function addressOf(cells: Int32Array, index: number): Deno.PointerValue {
  let known = addresses.get(cells);
  if (known === undefined) {
    known = [];
    addresses.set(cells, known);
  }
  let address = known[index];
  if (address === undefined) {
    const base = Deno.UnsafePointer.value(Deno.UnsafePointer.of(cells));
    address = known[index] = Deno.UnsafePointer.create(
      base + BigInt(index * 4),
    );
  }
  return address;
}

/** A relative timeout for the kernel: seconds and nanoseconds. */
function timespec(
  ms: number,
  into = new BigInt64Array(2),
): BigInt64Array<ArrayBuffer> {
  const whole = Math.floor(ms / 1000);
  into[0] = BigInt(whole);
  into[1] = BigInt(Math.round((ms - whole * 1000) * 1e6));
  return into;
}

// The timeout of every blocking wait of this thread, filled anew each time:
// a fresh buffer handed to FFI cost about 2.5 µs more a call, as much as
// the system call itself on a VM. An async wait makes its own, which
// another thread reads while this one goes on.
const syncTimeout = new BigInt64Array(2);

/**
 * Blocks the thread while `cells[index]` is `value`, `ms` at most (like
 * `Atomics.wait`).
 */
export function waitSync(
  cells: Int32Array,
  index: number,
  value: number,
  ms: number,
): WaitResult {
  const futex = futexCall(false);
  const started = performance.now();
  const code = futex(
    SYS_FUTEX_NUMBER,
    addressOf(cells, index),
    FUTEX_WAIT,
    value,
    timespec(ms, syncTimeout),
    null,
    0,
  );
  return Number(code) === 0 ? "ok" : failed(started, ms);
}

/**
 * What a wait that returned an error means, told by the time it took
 * rather than by errno (which would cost binding one more libc function):
 * one that lasted its timeout timed out; one that returned sooner found the
 * word changed (or was interrupted by a signal, which its caller takes as
 * a wake-up all the same: it looks at the word anyway).
 */
function failed(started: number, ms: number): WaitResult {
  return performance.now() - started >= ms ? "timed-out" : "not-equal";
}

/**
 * Sleeps while `cells[index]` is `value`, `ms` at most, without blocking
 * the thread. The errno of a failed call is not this thread's to read, so a
 * quick return counts as a wake-up: the caller looks at the word anyway.
 */
export async function waitAsync(
  cells: Int32Array,
  index: number,
  value: number,
  ms: number,
): Promise<WaitResult> {
  const futex = futexCall(true);
  const timeout = timespec(ms);
  const started = performance.now();
  const code = await futex(
    SYS_FUTEX_NUMBER,
    addressOf(cells, index),
    FUTEX_WAIT,
    value,
    timeout,
    null,
    0,
  );
  return Number(code) === 0 ? "ok" : failed(started, ms);
}

/** Wakes up to `count` sleepers on `cells[index]` (like `Atomics.notify`). */
export function notify(
  cells: Int32Array,
  index: number,
  count: number,
): number {
  const futex = futexCall(false);
  const n = count === Infinity ? 0x7fffffff : Math.max(0, Math.floor(count));
  return Number(
    futex(
      SYS_FUTEX_NUMBER,
      addressOf(cells, index),
      FUTEX_WAKE,
      n,
      null,
      null,
      0,
    ),
  );
}
