// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestArray, ported (see _util.ts for how). Python's RawArray is
// `new Array(code, items, { lock: false })`; slices are read with
// toArray().slice() and written through the typed array `arr.array`; as in
// value_test.ts, a missing get_lock is a getLock() that throws, and
// get_obj() is left out.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { f } from "./_shared_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  const testArray = async (raw = false): Promise<void> => {
    await using _ = testScope();
    const seq = [680, 626, 934, 821, 150, 233, 548, 982, 714, 831];
    const arr = new mp.Array("i", seq, { lock: !raw });

    assert.equal(arr.length, seq.length);
    assert.equal(arr[3], seq[3]);
    assert.deepEqual(arr.toArray().slice(2, 7), seq.slice(2, 7));

    // arr[4:8] = seq[4:8] = array.array('i', [1, 2, 3, 4])
    arr.array.set([1, 2, 3, 4], 4);
    seq.splice(4, 4, 1, 2, 3, 4);

    assert.deepEqual(arr.toArray(), seq);

    f(seq);

    const p = new mp.Process({ target: f, args: [arr] });
    p.daemon = true;
    p.start();
    await p.join();

    assert.deepEqual(arr.toArray(), seq);
  };

  Deno.test(`${backend}: _TestArray.test_array`, () => testArray());

  Deno.test(`${backend}: _TestArray.test_array_from_size`, () => {
    const size = 10;
    // Test for zeroing (see issue #11675).
    for (let i = 0; i < 3; i++) {
      const arr = new mp.Array("i", size);
      assert.equal(arr.length, size);
      assert.deepEqual([...arr], new Array(size).fill(0));
      arr.array.set(range(10));
      assert.deepEqual([...arr], range(10));
    }
  });

  Deno.test(`${backend}: _TestArray.test_rawarray`, () => testArray(true));

  Deno.test(`${backend}: _TestArray.test_getobj_getlock_obj`, () => {
    const arr1 = new mp.Array("i", range(10));
    const _lock1 = arr1.getLock();

    const arr2 = new mp.Array("i", range(10), { lock: undefined });
    const _lock2 = arr2.getLock();

    const lock = new mp.Lock();
    const arr3 = new mp.Array("i", range(10), { lock });
    const lock3 = arr3.getLock();
    assert.equal(lock, lock3);

    const arr4 = new mp.Array("i", range(10), { lock: false });
    assert.throws(() => arr4.getLock(), TypeError);
    assert.throws(
      () => new mp.Array("i", range(10), { lock: "notalock" as never }),
      TypeError,
    );

    const arr5 = new mp.Array("i", range(10), { lock: false }); // RawArray
    assert.throws(() => arr5.getLock(), TypeError);
  });

  Deno.test(`${backend}: _TestArray.test_invalid_typecode`, () => {
    const badTypecode = { name: "TypeError", message: /"x"/ };
    assert.throws(() => new mp.Array("x" as never, []), badTypecode);
    assert.throws(
      () => new mp.Array("x" as never, [], { lock: false }),
      badTypecode,
    );
  });
}
