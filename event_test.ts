// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { Event } from "./event.ts";
import { BACKENDS } from "./_test_util.ts";
import { child, joinAll } from "./testdata/sync_helpers.ts";

Deno.test("Event: set, clear, isSet, and timed waits", async () => {
  const event = new Event();
  assert.equal(event.isSet(), false);
  assert.equal(await event.wait(0), false);
  assert.equal(await event.wait(10), false);
  assert.equal(event.waitSync(10), false);
  event.set();
  assert.equal(event.isSet(), true);
  assert.equal(await event.wait(), true);
  assert.equal(event.waitSync(0), true);
  event.set(); // setting twice is fine
  event.clear();
  assert.equal(event.isSet(), false);
  assert.equal(await event.wait(5), false);
});

Deno.test("Event: bad timeouts throw RangeError", async () => {
  const event = new Event();
  await assert.rejects(async () => await event.wait(-1), RangeError);
  assert.throws(() => event.waitSync(NaN), RangeError);
});

Deno.test("Event: async waiters wake when it is set", async () => {
  const event = new Event();
  const waiters = [event.wait(), event.wait(), event.wait(60_000)];
  event.set();
  assert.deepEqual(await Promise.all(waiters), [true, true, true]);
});

for (const backend of BACKENDS) {
  Deno.test(`Event: set in a child wakes the parent (${backend})`, async () => {
    const event = new Event();
    const waiting = event.wait();
    const p = child(backend, "setEvent", [event]);
    assert.equal(await waiting, true);
    await joinAll([p]);
    assert.equal(event.isSet(), true);
  });

  Deno.test(`Event: set in the parent wakes waiting children (${backend})`, async () => {
    const go = new Event();
    const done = [new Event(), new Event()];
    const children = [
      child(backend, "waitThenSet", [go, done[0], false]),
      child(backend, "waitThenSet", [go, done[1], true]),
    ];
    assert.equal(await done[0].wait(20), false); // they wait for go
    go.set();
    assert.deepEqual(
      await Promise.all(done.map((e) => e.wait())),
      [true, true],
    );
    await joinAll(children);
  });
}
