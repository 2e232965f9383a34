// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestSimpleQueue, ported (see _util.ts for how), once per
// backend as the default start method.
//
// Not ported: test_closed (it reads the private _reader and _writer).
import assert from "node:assert/strict";
import { ProcessError } from "../errors.ts";
import { Event } from "../event.ts";
import { Process } from "../process.ts";
import { SimpleQueue } from "../queue.ts";
import { testEmpty } from "./_misc_targets.ts";
import { BACKENDS, testScope, withStartMethod } from "./_util.ts";

for (const backend of BACKENDS) {
  Deno.test({
    name: `${backend}: TestSimpleQueue.test_empty_exceptions`,
    fn() {
      // Checking emptiness of a closed queue raises, independently of
      // whether the queue was used or not. This differs from Queue and
      // JoinableQueue.
      const q = new SimpleQueue();
      q.close(); // close the pipe
      assert.throws(
        () => q.empty(),
        (e) => e instanceof ProcessError && /closed/.test(e.message),
      );
    },
  });

  Deno.test(`${backend}: TestSimpleQueue.test_empty`, async () => {
    await using _ = testScope();
    await withStartMethod(backend, async () => {
      const queue = new SimpleQueue();
      const childCanStart = new Event();
      const parentCanContinue = new Event();

      const proc = new Process({
        target: testEmpty,
        args: [queue, childCanStart, parentCanContinue],
      });
      proc.daemon = true;
      proc.start();

      assert.ok(queue.empty());

      childCanStart.set();
      await parentCanContinue.wait();

      assert.ok(!queue.empty());
      assert.equal(await queue.get(), true);
      assert.equal(await queue.get(), false);
      assert.ok(queue.empty());

      await proc.join();
    });
  });

  Deno.test(`${backend}: TestSimpleQueue.test_close`, () => {
    const queue = new SimpleQueue();
    queue.close();
    // closing a queue twice should not fail
    queue.close();
  });
}
