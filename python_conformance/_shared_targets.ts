// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for value_test.ts and array_test.ts (CPython's
// _TestValue and _TestArray).
import type { Value } from "../shared.ts";

/**
 * _TestValue.codes_values: typecode, initial value, value set by the child.
 * A 64-bit integer is a bigint here; a `c` (char) value is a one-character
 * string, where Python's is one byte (`latin('x')`): a documented
 * difference (README).
 */
export const CODES_VALUES: [string, unknown, unknown][] = [
  ["i", 4343, 24234],
  ["d", 3.625, -4.25],
  ["h", -232, 234],
  ["q", 2n ** 33n, 2n ** 34n],
  ["c", "x", "y"],
];

/** _TestValue._test: the child sets every value to its new one. */
export function test(values: Value[]): void {
  values.forEach((sv, i) => {
    sv.value = CODES_VALUES[i][2] as never;
  });
}

/** _TestArray.f: running sums, in place. */
export function f(seq: { length: number; [i: number]: number }): void {
  for (let i = 1; i < seq.length; i++) seq[i] += seq[i - 1];
}
