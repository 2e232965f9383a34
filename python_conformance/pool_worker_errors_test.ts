// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestPoolWorkerErrors, ported (see _util.ts for how).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { raising, unpickleableResult } from "./_pool_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  // CPython uses multiprocessing.Pool, under the start method it tests.
  const mp = getContext(backend);

  Deno.test(
    `${backend}: _TestPoolWorkerErrors.test_async_error_callback`,
    async () => {
      await using _ = testScope();
      const p = new mp.Pool({ processes: 2 });

      const scratchpad: unknown[] = [undefined];
      const errback = (exc: unknown) => {
        scratchpad[0] = exc;
      };

      const res = p.applyAsync(raising, [], { errorCallback: errback });
      await assert.rejects(res, { name: "KeyError" });
      assert.ok(scratchpad[0]);
      assert.equal((scratchpad[0] as Error).name, "KeyError");

      p.close();
      await p.join();
    },
  );

  // Python's MaybeEncodingError is the library's TypeError for data that
  // cannot be passed; its `exc` (the encoding error) is the error's cause,
  // and its `value` (the result) is named in the message.
  Deno.test({
    name: `${backend}: _TestPoolWorkerErrors.test_unpickleable_result`,
    async fn() {
      await using _ = testScope();
      const p = new mp.Pool({ processes: 2 });

      // Make sure we don't lose pool processes because of encoding errors.
      for (let iteration = 0; iteration < 20; iteration++) {
        const scratchpad: unknown[] = [undefined];
        const errback = (exc: unknown) => {
          scratchpad[0] = exc;
        };

        const res = p.applyAsync(unpickleableResult, [], {
          errorCallback: errback,
        });
        await assert.rejects(res, TypeError);
        const wrapped = scratchpad[0] as Error;
        assert.ok(wrapped);
        assert.ok(scratchpad[0] instanceof TypeError);
        assert.notEqual(wrapped.cause, undefined); // wrapped.exc
        assert.match(wrapped.message, /=> ?42/); // wrapped.value
      }

      p.close();
      await p.join();
    },
  });
}
