// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Whether JSON carries a value exactly: the one test of it, for every path
 * that sends plain data as JSON text rather than as a structured clone (a
 * pool's small messages through a pipe's ring, a subprocess channel's
 * frames, a subprocess child's start module), since text is cheaper to make
 * and to read.
 *
 * @module
 */

/** Nesting deeper than this is left to the structured clone. */
const MAX_DEPTH = 64;

/** Characters the walk may still count before it gives up. */
let left = 0;
/** The objects met in this walk: one met twice is not JSON's to carry. */
const met = new Set<object>();
/** The objects this walk takes as carried beside the text. */
let beside: ReadonlySet<object> | undefined;

/**
 * Whether `JSON.parse(JSON.stringify(value))` gives back what the structured
 * clone would: finite numbers (not -0), strings, booleans, `null`, and
 * arrays (without holes or other own properties) and plain objects of them,
 * each object met once (JSON would copy a shared one apart, and a cycle
 * would throw), nested 64 deep at most, no key `__proto__` and no symbol
 * keys. `undefined`, `NaN`, a `Map`, a class
 * instance or a typed array anywhere makes it `false`.
 *
 * @param value What to send.
 * @param maxChars Gives up (`false`) once the text would be longer than
 * about this many characters, so that a large value costs no full walk.
 * @param carried Objects that a caller carries beside the text (a frame's
 * buffers): each counts as carried exactly, wherever it is met.
 * @returns Whether JSON carries `value` exactly (and briefly enough).
 */
export function jsonExact(
  value: unknown,
  maxChars = Infinity,
  carried?: ReadonlySet<object>,
): boolean {
  left = maxChars;
  beside = carried;
  try {
    return exact(value, 0);
  } finally {
    met.clear();
    beside = undefined;
  }
}

function exact(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
      return (left -= value.length + 2) >= 0;
    case "number":
      left -= 8;
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0) &&
        left >= 0;
    case "boolean":
      return (left -= 5) >= 0;
    case "object": {
      if (value === null) return (left -= 4) >= 0;
      if (beside?.has(value)) return (left -= 16) >= 0;
      if (depth > MAX_DEPTH || met.has(value)) return false;
      met.add(value);
      const proto = Object.getPrototypeOf(value);
      if (Array.isArray(value)) {
        if (proto !== Array.prototype) return false;
        left -= value.length + 2;
        // Holes and named properties: JSON drops both.
        if (left < 0 || Object.keys(value).length !== value.length) {
          return false;
        }
        for (let i = 0; i < value.length; i++) {
          if (!exact(value[i], depth + 1)) return false;
        }
        return true;
      }
      if (proto !== Object.prototype && proto !== null) return false;
      // A symbol key may mark a handle of this library (its toWire).
      if (Object.getOwnPropertySymbols(value).length > 0) return false;
      for (const key of Object.keys(value)) {
        // Parsed back, it could set the prototype rather than a key.
        if (key === "__proto__") return false;
        left -= key.length + 3;
        if (!exact((value as Record<string, unknown>)[key], depth + 1)) {
          return false;
        }
      }
      return left >= 0;
    }
    default:
      return false;
  }
}
