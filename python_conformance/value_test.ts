// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestValue, ported (see _util.ts for how). Python's RawValue is
// `new Value(code, value, { lock: false })`; a value without a lock has no
// get_lock (AttributeError), which here is a getLock() that throws.
// get_obj() (the wrapped ctypes object) has no equivalent and is left out.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import type { TypeCode } from "../shared.ts";
import { CODES_VALUES, test } from "./_shared_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  const testValue = async (raw = false): Promise<void> => {
    await using _ = testScope();
    const values = CODES_VALUES.map(([code, value]) =>
      new mp.Value(code as TypeCode, value as never, { lock: !raw })
    );

    values.forEach((sv, i) => assert.deepEqual(sv.value, CODES_VALUES[i][1]));

    const proc = new mp.Process({ target: test, args: [values] });
    proc.daemon = true;
    proc.start();
    await proc.join();

    values.forEach((sv, i) => assert.deepEqual(sv.value, CODES_VALUES[i][2]));
  };

  Deno.test({
    name: `${backend}: _TestValue.test_value`,
    fn: () => testValue(),
  });

  Deno.test({
    name: `${backend}: _TestValue.test_rawvalue`,
    fn: () => testValue(true),
  });

  Deno.test(`${backend}: _TestValue.test_getobj_getlock`, () => {
    const val1 = new mp.Value("i", 5);
    const _lock1 = val1.getLock();

    const val2 = new mp.Value("i", 5, { lock: undefined });
    const _lock2 = val2.getLock();

    const lock = new mp.Lock();
    const val3 = new mp.Value("i", 5, { lock });
    const lock3 = val3.getLock();
    assert.equal(lock, lock3);

    const arr4 = new mp.Value("i", 5, { lock: false });
    assert.throws(() => arr4.getLock(), TypeError);

    assert.throws(
      () => new mp.Value("i", 5, { lock: "navalue" as never }),
      TypeError,
    );

    const arr5 = new mp.Value("i", 5, { lock: false }); // RawValue
    assert.throws(() => arr5.getLock(), TypeError);
  });

  Deno.test(`${backend}: _TestValue.test_invalid_typecode`, () => {
    const badTypecode = { name: "TypeError", message: /"x"/ };
    assert.throws(() => new mp.Value("x" as never, null as never), badTypecode);
    assert.throws(
      () => new mp.Value("x" as never, null as never, { lock: false }),
      badTypecode,
    );
  });
}
