// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Waiting on a shared Int32 cell without blocking the event loop.
//
// `Atomics.waitAsync` does not keep Deno's event loop alive: a program whose
// only pending work is such a wait would end with "promise never resolved".
// While any wait is pending, one long interval is ref'd so the process stays
// up; it is unref'd (not cleared, which is cheaper to undo) when none is.

let keepAlive: ReturnType<typeof setInterval> | undefined;
let pending = 0;

function hold(): void {
  if (pending++ > 0) return;
  keepAlive ??= setInterval(() => {}, 2 ** 31 - 1);
  Deno.refTimer(keepAlive);
}

function release(): void {
  if (--pending === 0) Deno.unrefTimer(keepAlive!);
}

/**
 * Waits until `cells[index]` is notified, no longer holds `value`, or
 * `timeout` milliseconds passed (`Infinity` waits forever).
 *
 * @returns `true` when woken or the value differed, `false` on timeout.
 */
export async function waitAsync(
  cells: Int32Array,
  index: number,
  value: number,
  timeout: number,
): Promise<boolean> {
  const result = Atomics.waitAsync(cells, index, value, timeout);
  if (!result.async) return result.value !== "timed-out";
  hold();
  try {
    return await result.value !== "timed-out";
  } finally {
    release();
  }
}
