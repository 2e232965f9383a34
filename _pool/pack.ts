// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A chunk's items and results travel packed into one ArrayBuffer (V8's own
// serialization, the format of the structured clone) when they are plain
// data. A message is then a few objects and one buffer, which every layer
// below (the wire walk, the port, a subprocess's proxy) passes along whole,
// rather than a tree of thousands of values that each layer visits.
// Anything else (a primitive of this library, which must be revived as a
// handle; a function, which cannot be sent) travels as it is.
import { deserialize, serialize } from "node:v8";

/** Below this many values, packing costs more than it saves. */
const PACK_MIN = 16;

/**
 * Values as they travel: as they are, packed by V8's serializer, or (the
 * common case of numbers) as the bytes of a `Float64Array`.
 */
export type Packed = unknown[] | ArrayBuffer | { f64: ArrayBuffer };

/** Packs `values` when they are plain data; returns them as they are otherwise. */
export function pack(values: unknown[]): Packed {
  if (values.length < PACK_MIN) return values;
  if (values.every((value) => typeof value === "number")) {
    return { f64: new Float64Array(values as number[]).buffer };
  }
  if (!values.every((value) => isPlain(value))) return values;
  try {
    const bytes = serialize(values);
    return bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength,
    ) as ArrayBuffer;
  } catch {
    return values;
  }
}

/** The values that {@linkcode pack} was given. */
export function unpack(packed: Packed): unknown[] {
  if (Array.isArray(packed)) return packed;
  if (packed instanceof ArrayBuffer) {
    return deserialize(new Uint8Array(packed)) as unknown[];
  }
  // A loop, not Array.from(): that goes through the typed array's
  // iterator, about 20 ns a number, five times the loop.
  const numbers = new Float64Array(packed.f64);
  const values = new Array(numbers.length);
  for (let i = 0; i < numbers.length; i++) values[i] = numbers[i];
  return values;
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
