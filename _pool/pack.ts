// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A chunk's items and results travel packed into one ArrayBuffer (V8's own
// serialization, the format of the structured clone) when they are plain
// data. A message is then a few objects and one buffer, which every layer
// below (the wire walk, the port, a subprocess's proxy) passes along whole,
// rather than a tree of thousands of values that each layer visits.
// Anything else (a primitive of this library, which must be revived as a
// handle; a function, which cannot be sent) travels as it is.
//
// A whole message that JSON carries exactly and that is short (an apply's
// chunk, a few results) travels as JSON text instead: a pipe writes a short
// string into its ring, where an object is posted on a port, whose clone
// and wake-up cost far more than the message (see toText).
import { deserialize, serialize } from "node:v8";
import { Connection } from "../pipe.ts";
import { jsonExact } from "../_json.ts";
import { answerBrief, waitsWith } from "../_shm/futex.ts";

/** Below this many values, packing costs more than it saves. */
const PACK_MIN = 16;

/**
 * Values as they travel: as they are, packed by V8's serializer, or (the
 * common case of numbers) as the bytes of an `Int32Array` when all are
 * 32-bit integers, of a `Float64Array` otherwise. Integers arrive as the
 * small integers of an array, which the array stores without a conversion
 * of all its elements to doubles (a copy of them into fresh memory).
 */
export type Packed =
  | unknown[]
  | ArrayBuffer
  | { f64: ArrayBuffer }
  | { i32: ArrayBuffer };

/**
 * Packs the `count` values of `values` from index `from` on (all of them by
 * default) when they are plain data; returns them as they are otherwise.
 * Numbers go straight into a typed array, with no copy of the range first.
 */
export function pack(
  values: unknown[],
  from = 0,
  count: number = values.length - from,
): Packed {
  const whole = from === 0 && count === values.length;
  if (count < PACK_MIN) {
    return whole ? values : values.slice(from, from + count);
  }
  const numbers = packNumbers(values, from, count);
  if (numbers) return numbers;
  const range = whole ? values : values.slice(from, from + count);
  if (!range.every((value) => isPlain(value))) return range;
  try {
    const bytes = serialize(range);
    return bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength,
    ) as ArrayBuffer;
  } catch {
    return range;
  }
}

/**
 * The range as the bytes of a typed array when every value in it is a
 * number, else `undefined`. Loops, not `new Float64Array(array)`: that goes
 * through the array's iterator, several times slower, and needs a check of
 * its own.
 */
function packNumbers(
  values: unknown[],
  from: number,
  count: number,
): { f64: ArrayBuffer } | { i32: ArrayBuffer } | undefined {
  let integers = true;
  for (let i = 0; i < count; i++) {
    const value = values[from + i];
    if (typeof value !== "number") return undefined;
    if (integers && ((value | 0) !== value || 1 / value === -Infinity)) {
      integers = false;
    }
  }
  const numbers = integers ? new Int32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) numbers[i] = values[from + i] as number;
  return integers ? { i32: numbers.buffer } : { f64: numbers.buffer };
}

/**
 * The buffer a packed form holds (none for values as they are): made by
 * {@linkcode pack} for this one message, it can move rather than be copied
 * (by the port, then again out of it).
 */
export function buffersOf(packed: Packed): ArrayBuffer[] {
  if (Array.isArray(packed)) return [];
  return [packed instanceof ArrayBuffer ? packed : numbersOf(packed).buffer];
}

/** The typed array of a packed form of numbers. */
function numbersOf(
  packed: { f64: ArrayBuffer } | { i32: ArrayBuffer },
): Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer> {
  return "i32" in packed
    ? new Int32Array(packed.i32)
    : new Float64Array(packed.f64);
}

/** The values that {@linkcode pack} was given. */
export function unpack(packed: Packed): unknown[] {
  if (Array.isArray(packed)) return packed;
  if (packed instanceof ArrayBuffer) {
    return deserialize(new Uint8Array(packed)) as unknown[];
  }
  const values = new Array(numbersOf(packed).length);
  unpackInto(packed, values, 0);
  return values;
}

/**
 * The values that {@linkcode pack} was given, to be read by index only:
 * numbers stay in their typed array, with no copy into an array.
 */
export function view(packed: Packed): ArrayLike<unknown> {
  return Array.isArray(packed) || packed instanceof ArrayBuffer
    ? unpack(packed)
    : numbersOf(packed);
}

/**
 * Writes the values that {@linkcode pack} was given into `target` from
 * index `at` on, with no array of them in between when they are numbers.
 *
 * @returns How many values were written.
 */
export function unpackInto(
  packed: Packed,
  target: unknown[],
  at: number,
): number {
  if (Array.isArray(packed) || packed instanceof ArrayBuffer) {
    const values = unpack(packed);
    for (let i = 0; i < values.length; i++) target[at + i] = values[i];
    return values.length;
  }
  // A loop, not Array.from(): that goes through the typed array's
  // iterator, about 20 ns a number, five times the loop.
  const numbers = numbersOf(packed);
  for (let i = 0; i < numbers.length; i++) target[at + i] = numbers[i];
  return numbers.length;
}

/**
 * Whether a value is data that V8's serializer copies faithfully: no class
 * instance (a `Lock` would arrive as a plain object), no shared memory.
 */
function isPlain(value: unknown, depth = 0): boolean {
  if (typeof value !== "object" || value === null) {
    return typeof value !== "function" && typeof value !== "symbol";
  }
  if (depth > 16) return false;
  if (Array.isArray(value)) {
    return value.every((item) => isPlain(item, depth + 1));
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    for (const key in value) {
      if (!isPlain((value as Record<string, unknown>)[key], depth + 1)) {
        return false;
      }
    }
    return Object.getOwnPropertySymbols(value).length === 0;
  }
  if (value instanceof Date || value instanceof RegExp) return true;
  if (value instanceof ArrayBuffer) return true;
  if (ArrayBuffer.isView(value)) return value.buffer instanceof ArrayBuffer;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      if (!isPlain(k, depth + 1) || !isPlain(v, depth + 1)) return false;
    }
    return true;
  }
  if (value instanceof Set) {
    for (const v of value) if (!isPlain(v, depth + 1)) return false;
    return true;
  }
  return false;
}

/**
 * The longest message sent as text: the longest string a pipe writes into
 * its ring rather than posting it.
 */
const TEXT_MAX = 16 * 1024;

/**
 * The message as JSON text when JSON carries it exactly and it is short:
 * finite numbers (not -0), strings, booleans, null, and arrays and plain
 * objects of them, the text {@linkcode TEXT_MAX} characters at most. Such a
 * message goes through a pipe's ring, which costs a few microseconds where
 * a message posted on the port (structured clone, a port's wake-up, the
 * receiving side's walk for ports) costs tens. `undefined` for any other
 * message, which travels as it is: {@linkcode fromText} then never sees it.
 */
export function toText(message: unknown): string | undefined {
  if (!jsonExact(message, TEXT_MAX)) return undefined;
  const text = JSON.stringify(message);
  return text.length <= TEXT_MAX ? text : undefined;
}

/** The message that {@linkcode toText} made `text` of. */
export function fromText(text: string): unknown {
  return JSON.parse(text);
}

/**
 * Sends a pool message (a batch of chunks, or a chunk's results): its
 * packed buffers move, as they were made for this message alone; a message
 * without any goes as text when it is plain data (see {@linkcode toText}).
 */
export function sendPoolMessage(
  channel: Connection,
  message: unknown,
  transfer: ArrayBuffer[],
): void {
  if (transfer.length) channel.send(message, { transfer });
  else channel.send(toText(message) ?? message);
}

/**
 * Makes one side of a pool's channel wait as a side of a channel of
 * requests and answers does (see answerBrief): an awaited `apply`'s next
 * chunk comes to the worker, and a chunk's result to the pool, within tens
 * of microseconds at rest, where waking a thread blocked on the other core
 * costs 20 to 30.
 */
export function tunePoolChannel(channel: Connection): void {
  // A subprocess worker's channel is a proxy: it waits in the parent.
  if (!(channel instanceof Connection)) return;
  channel[waitsWith](answerBrief());
}

/** A pool message as {@linkcode sendPoolMessage} sent it. */
export function receivedPoolMessage<T>(received: T | string): T {
  return typeof received === "string" ? fromText(received) as T : received;
}
