// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Timeouts are milliseconds everywhere; `undefined` means forever.

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
 * starts now must end, or `Infinity`.
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
 * A timer that resolves after `ms` and can be cancelled, so that a wait that
 * ended early leaves no timer behind (Deno's test sanitizers check for that).
 */
export function cancellableDelay(
  ms: number,
): { promise: Promise<void>; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    id = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}
