// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for event_test.ts (CPython's _TestEvent).
import type { Event } from "../event.ts";
import { sleep, TIMEOUT2 } from "./_util.ts";

export async function testEvent(event: Event): Promise<void> {
  await sleep(TIMEOUT2);
  event.set();
}
