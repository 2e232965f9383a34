// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestEvent, ported (see _util.ts for how).
//
// Not ported: test_repr (Python's repr() of an Event).
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { testEvent } from "./_event_targets.ts";
import { BACKENDS, testScope, TIMEOUT1 } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(`${backend}: _TestEvent.test_event`, async () => {
    await using _ = testScope();
    const event = new mp.Event();

    assert.equal(event.isSet(), false);

    assert.equal(await event.wait(0), false);
    assert.equal(await event.wait(TIMEOUT1), false);

    event.set();

    assert.equal(event.isSet(), true);
    assert.equal(await event.wait(), true);
    assert.equal(await event.wait(TIMEOUT1), true);

    event.clear();

    const p = new mp.Process({ target: testEvent, args: [event] });
    p.daemon = true;
    p.start();
    assert.equal(await event.wait(), true);
    await p.join();
  });
}
