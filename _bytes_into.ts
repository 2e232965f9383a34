// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What every `recvBytesInto` shares (a pipe's Connection, a socket's
// SocketConnection, and a subprocess child's proxy of a Connection): the
// check of its arguments, made before any message is taken so that bad
// arguments lose nothing, and the error of a message that does not fit.
import { BufferTooShort } from "./errors.ts";

/**
 * The memory a receive into `buffer` at `offset` (in bytes) writes to:
 * the bytes of `buffer` from `offset` to its end.
 *
 * @throws {TypeError} When `buffer` is not an `ArrayBuffer`, a
 * `SharedArrayBuffer` or a view of one, or is detached.
 * @throws {RangeError} When `offset` is not a whole number from 0 to the
 * buffer's length in bytes.
 */
export function intoTarget(
  buffer: unknown,
  offset: unknown,
  method: string,
): Uint8Array {
  const memory = ArrayBuffer.isView(buffer) ? buffer.buffer : buffer;
  if (
    !(memory instanceof ArrayBuffer) && !(memory instanceof SharedArrayBuffer)
  ) {
    throw new TypeError(
      `${method}() writes into an ArrayBuffer, a SharedArrayBuffer or a view of one (a typed array, a DataView), got ${
        describe(buffer)
      }: pass the memory to receive into, or receive with recvBytes()`,
    );
  }
  if (memory instanceof ArrayBuffer && memory.detached) {
    throw new TypeError(
      `${method}() cannot write into a detached ArrayBuffer (it was transferred): pass memory this thread still holds`,
    );
  }
  // A Uint8Array is used as it is: a receive per message makes no view.
  const bytes = buffer instanceof Uint8Array
    ? buffer
    : ArrayBuffer.isView(buffer)
    ? new Uint8Array(memory, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(memory);
  const at = offset ?? 0;
  if (
    typeof at !== "number" || !Number.isInteger(at) || at < 0 ||
    at > bytes.length
  ) {
    throw new RangeError(
      `The offset of ${method}() must be a whole number of bytes from 0 to ${bytes.length} (the buffer's length in bytes), got ${
        describe(offset)
      }`,
    );
  }
  return at === 0 ? bytes : bytes.subarray(at);
}

/**
 * Writes a whole message into `target` (from {@linkcode intoTarget}).
 *
 * @returns The message's length in bytes.
 * @throws {BufferTooShort} When it does not fit; it carries the message.
 */
export function fillTarget(target: Uint8Array, bytes: Uint8Array): number {
  if (bytes.length > target.length) throw tooShort(bytes, target.length);
  target.set(bytes);
  return bytes.length;
}

/** The error of a message (`bytes`, whole) longer than `room`. */
export function tooShort(bytes: Uint8Array, room: number): BufferTooShort {
  return new BufferTooShort(
    `The message of ${bytes.length} bytes does not fit in the ${room} bytes from the offset to the end of the buffer: it was received, and is on this error (its bytes); receive into a buffer with room for it, or with recvBytes()`,
    { bytes },
  );
}

function describe(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return typeof value === "string" ? JSON.stringify(value) : String(value);
  }
  return `a ${value.constructor?.name ?? "object"}`;
}
