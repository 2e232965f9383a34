// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * The error classes of the library, each with `name` set so that
 * `instanceof` and `error.name` both work, in the parent and in children.
 *
 * ```ts
 * import { Empty, ProcessError } from "@mp/multiprocessing/errors";
 *
 * const error = new Empty("the queue is empty");
 * console.log(error instanceof ProcessError, error.name); // true "Empty"
 * ```
 *
 * @module
 */

/**
 * The base class of every error this library defines (Python's
 * `multiprocessing.ProcessError`).
 *
 * @example Catching any library error
 * ```ts
 * import { ProcessError, TimeoutError } from "@mp/multiprocessing/errors";
 * import assert from "node:assert/strict";
 *
 * const error: Error = new TimeoutError("too slow");
 * assert(error instanceof ProcessError);
 * ```
 */
export class ProcessError extends Error {
  /**
   * Makes an error.
   *
   * @param message What went wrong and what to do.
   * @param options `cause`, the error behind this one.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProcessError";
  }
}

/**
 * A wait ran out of time (Python's `multiprocessing.TimeoutError`).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@mp/multiprocessing/errors";
 *
 * console.log(new TimeoutError("no result within 100 ms").name); // "TimeoutError"
 * ```
 */
export class TimeoutError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message What timed out.
   * @param options `cause`, the error behind this one.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}

/**
 * The other end of a connection is closed and nothing is left to read
 * (Python's `EOFError`).
 *
 * @example
 * ```ts
 * import { EOFError } from "@mp/multiprocessing/errors";
 *
 * console.log(new EOFError("peer closed").name); // "EOFError"
 * ```
 */
export class EOFError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Which connection reached its end.
   * @param options `cause`, the error behind this one.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EOFError";
  }
}

/**
 * A queue had no item to give within the time allowed (Python's
 * `queue.Empty`).
 *
 * @example
 * ```ts
 * import { Empty } from "@mp/multiprocessing/errors";
 *
 * console.log(new Empty("queue is empty").name); // "Empty"
 * ```
 */
export class Empty extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Which queue was empty.
   * @param options `cause`, the error behind this one.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Empty";
  }
}

/**
 * A bounded queue had no room within the time allowed (Python's
 * `queue.Full`).
 *
 * @example
 * ```ts
 * import { Full } from "@mp/multiprocessing/errors";
 *
 * console.log(new Full("queue is full").name); // "Full"
 * ```
 */
export class Full extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Which queue was full.
   * @param options `cause`, the error behind this one.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Full";
  }
}

/**
 * A barrier was aborted, reset, or timed out while parties waited on it
 * (Python's `threading.BrokenBarrierError`).
 *
 * @example
 * ```ts
 * import { BrokenBarrierError } from "@mp/multiprocessing/errors";
 *
 * console.log(new BrokenBarrierError("barrier aborted").name); // "BrokenBarrierError"
 * ```
 */
export class BrokenBarrierError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Why the barrier is broken.
   * @param options `cause`, the error behind this one.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BrokenBarrierError";
  }
}

/**
 * A connection's peer failed authentication (Python's
 * `multiprocessing.AuthenticationError`).
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "@mp/multiprocessing/errors";
 *
 * console.log(new AuthenticationError("digest mismatch").name); // "AuthenticationError"
 * ```
 */
export class AuthenticationError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message What failed to authenticate.
   * @param options `cause`, the error behind this one.
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthenticationError";
  }
}
