// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Timeouts are milliseconds everywhere; `undefined` means forever. Every
// timeout goes through `deadlineOf`, which checks it and turns it into the
// absolute time the wait ends: any non-negative number works, `Infinity`
// and numbers past what `setTimeout` takes included. Waits then look at
// the deadline, not the timeout: waits on shared memory sleep in short
// slices (see _shm/futex.ts), and a wait for a promise uses `settlesBy`.

/**
 * The longest delay `setTimeout` keeps (2^31 - 1 ms, about 24.8 days): a
 * longer one fires at once, with a `TimeoutOverflowWarning`.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Throws a `RangeError` for a timeout that is negative or not a number.
 *
 * @param timeout The timeout in milliseconds, or `undefined` for forever.
 * @param what The name to use in the message.
 */
export function checkTimeout(
  timeout: number | undefined,
  what = "timeout",
): void {
  if (timeout === undefined) return;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new RangeError(
      `The ${what} must be a number of milliseconds from 0 up, or undefined to wait forever, got ${
        String(timeout)
      }`,
    );
  }
}

/**
 * The absolute time (in `performance.now()` terms) at which a wait that
 * starts now must end: `Infinity` for `undefined` and `Infinity`.
 *
 * @throws {RangeError} For a timeout that is negative or not a number.
 */
export function deadlineOf(timeout: number | undefined): number {
  checkTimeout(timeout);
  return timeout === undefined ? Infinity : performance.now() + timeout;
}

/** Milliseconds left until `deadline` (never negative; `Infinity` stays). */
export function remaining(deadline: number): number {
  return deadline === Infinity
    ? Infinity
    : Math.max(0, deadline - performance.now());
}

/**
 * Waits until `promise` settles or `deadline` passes, whichever comes
 * first, and leaves no timer behind. A deadline further off than one timer
 * reaches is waited for with one timer after another; `Infinity` sets none.
 *
 * @returns `true` when `promise` fulfilled in time, `false` when the
 * deadline passed first.
 * @throws What `promise` rejects with, when it does so in time.
 */
export async function settlesBy(
  promise: Promise<unknown>,
  deadline: number,
): Promise<boolean> {
  if (deadline === Infinity) {
    await promise;
    return true;
  }
  let cancel = () => {};
  const expired = new Promise<false>((resolve) => {
    cancel = onDeadline(deadline, () => resolve(false));
  });
  try {
    return await Promise.race([promise.then(() => true as const), expired]);
  } finally {
    cancel();
  }
}

/**
 * Calls `fn` once `deadline` passes, unless the returned function is called
 * first. A deadline further off than one timer reaches is waited for with
 * one timer after another; `Infinity` sets none.
 *
 * @returns What cancels the call.
 */
export function onDeadline(deadline: number, fn: () => void): () => void {
  if (deadline === Infinity) return () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    const left = remaining(deadline);
    if (left === 0) fn();
    else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  return () => clearTimeout(timer);
}
