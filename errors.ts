// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * The error classes of the library, each with `name` set so that
 * `instanceof` and `error.name` both work, in the parent and in children.
 *
 * ```ts
 * import { Empty, ProcessError } from "@mp/multiprocessing/errors";
 *
 * const error = new Empty("The queue is empty");
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
 * const error: Error = new TimeoutError("No result within 100 ms");
 * assert(error instanceof ProcessError);
 * ```
 */
export class ProcessError extends Error {
  /**
   * Makes an error.
   *
   * @param message What went wrong and what to do.
   * @param options `cause`, the error behind this one.
   *
   * @example With the error behind it
   * ```ts
   * import { ProcessError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const cause = new Error("Connection reset");
   * const error = new ProcessError("Cannot reach Process-1", { cause });
   * assert.equal(error.name, "ProcessError");
   * assert.equal(error.cause, cause);
   * ```
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProcessError";
  }
}

/**
 * A wait ran out of time (Python's `multiprocessing.TimeoutError`).
 *
 * @example Not done in time
 * ```ts
 * import { TimeoutError } from "@mp/multiprocessing/errors";
 *
 * console.log(new TimeoutError("No result within 100 ms").name); // "TimeoutError"
 * ```
 */
export class TimeoutError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message What timed out.
   * @param options `cause`, the error behind this one.
   *
   * @example With the error behind it
   * ```ts
   * import { TimeoutError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const cause = new Error("Connection reset");
   * const error = new TimeoutError("No result within 100 ms", { cause });
   * assert.equal(error.name, "TimeoutError");
   * assert.equal(error.cause, cause);
   * ```
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
 * @example The end of a pipe
 * ```ts
 * import { EOFError } from "@mp/multiprocessing/errors";
 *
 * console.log(new EOFError("The other end of the pipe is closed").name); // "EOFError"
 * ```
 */
export class EOFError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Which connection reached its end.
   * @param options `cause`, the error behind this one.
   *
   * @example With the error behind it
   * ```ts
   * import { EOFError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const cause = new Error("Connection reset");
   * const error = new EOFError("The other end of the pipe is closed", { cause });
   * assert.equal(error.name, "EOFError");
   * assert.equal(error.cause, cause);
   * ```
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
 * @example Nothing to get
 * ```ts
 * import { Empty } from "@mp/multiprocessing/errors";
 *
 * console.log(new Empty("The queue is empty").name); // "Empty"
 * ```
 */
export class Empty extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Which queue was empty.
   * @param options `cause`, the error behind this one.
   *
   * @example With the error behind it
   * ```ts
   * import { Empty } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const cause = new Error("Connection reset");
   * const error = new Empty("The queue is empty", { cause });
   * assert.equal(error.name, "Empty");
   * assert.equal(error.cause, cause);
   * ```
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
 * @example No room to put
 * ```ts
 * import { Full } from "@mp/multiprocessing/errors";
 *
 * console.log(new Full("The queue is full (maxsize 1)").name); // "Full"
 * ```
 */
export class Full extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Which queue was full.
   * @param options `cause`, the error behind this one.
   *
   * @example With the error behind it
   * ```ts
   * import { Full } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const cause = new Error("Connection reset");
   * const error = new Full("The queue is full (maxsize 1)", { cause });
   * assert.equal(error.name, "Full");
   * assert.equal(error.cause, cause);
   * ```
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
 * @example A broken barrier
 * ```ts
 * import { BrokenBarrierError } from "@mp/multiprocessing/errors";
 *
 * console.log(new BrokenBarrierError("The barrier was aborted").name); // "BrokenBarrierError"
 * ```
 */
export class BrokenBarrierError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message Why the barrier is broken.
   * @param options `cause`, the error behind this one.
   *
   * @example With the error behind it
   * ```ts
   * import { BrokenBarrierError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const cause = new Error("Connection reset");
   * const error = new BrokenBarrierError("The barrier was aborted", { cause });
   * assert.equal(error.name, "BrokenBarrierError");
   * assert.equal(error.cause, cause);
   * ```
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
 * @example A failed handshake
 * ```ts
 * import { AuthenticationError } from "@mp/multiprocessing/errors";
 *
 * console.log(new AuthenticationError("The digest did not match").name); // "AuthenticationError"
 * ```
 */
export class AuthenticationError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message What failed to authenticate.
   * @param options `cause`, the error behind this one.
   *
   * @example With the error behind it
   * ```ts
   * import { AuthenticationError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const cause = new Error("Connection reset");
   * const error = new AuthenticationError("The digest did not match", { cause });
   * assert.equal(error.name, "AuthenticationError");
   * assert.equal(error.cause, cause);
   * ```
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthenticationError";
  }
}

/**
 * A task was cancelled before it ran (Python's
 * `concurrent.futures.CancelledError`): what a cancelled `Future` gives.
 *
 * @example A cancelled task
 * ```ts
 * import { CancelledError } from "@mp/multiprocessing/errors";
 *
 * console.log(new CancelledError("The task was cancelled").name); // "CancelledError"
 * ```
 */
export class CancelledError extends ProcessError {
  /**
   * Makes an error.
   *
   * @param message What was cancelled.
   * @param options `cause`, the error behind this one.
   *
   * @example With a message
   * ```ts
   * import { CancelledError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new CancelledError("Cancelled").message, "Cancelled");
   * ```
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CancelledError";
  }
}

/** Options of {@linkcode BufferTooShort}. */
export interface BufferTooShortOptions extends ErrorOptions {
  /** The whole message that did not fit (default: no bytes). */
  bytes?: Uint8Array;
}

/**
 * A message did not fit in the buffer a `recvBytesInto` was to write it
 * into (Python's `multiprocessing.BufferTooShort`). The message is taken
 * off the connection all the same and nothing is lost: its bytes are on
 * the error (Python's `e.args[0]`), and the next receive gets the next
 * message.
 *
 * @example The message on the error
 * ```ts
 * import { BufferTooShort } from "@mp/multiprocessing/errors";
 * import { Pipe } from "@mp/multiprocessing/pipe";
 * import assert from "node:assert/strict";
 *
 * const [a, b] = Pipe();
 * a.sendBytes(new Uint8Array([1, 2, 3, 4]));
 * const error = await b.recvBytesInto(new Uint8Array(2)).catch((e) => e);
 * assert(error instanceof BufferTooShort);
 * assert.deepEqual(error.bytes, new Uint8Array([1, 2, 3, 4]));
 * a.close();
 * b.close();
 * ```
 */
export class BufferTooShort extends ProcessError {
  /** The whole message that did not fit. */
  readonly bytes: Uint8Array;

  /**
   * Makes an error.
   *
   * @param message How long the message was, how much room there was, and
   * what to do.
   * @param options `bytes`, the message that did not fit; `cause`, the
   * error behind this one.
   *
   * @example With the message's bytes
   * ```ts
   * import { BufferTooShort } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * const bytes = new Uint8Array([1, 2, 3]);
   * const error = new BufferTooShort("3 bytes do not fit in 2", { bytes });
   * assert.equal(error.name, "BufferTooShort");
   * assert.equal(error.bytes, bytes);
   * ```
   */
  constructor(message?: string, options?: BufferTooShortOptions) {
    super(
      message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "BufferTooShort";
    this.bytes = options?.bytes ?? new Uint8Array(0);
  }
}
