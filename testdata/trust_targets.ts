// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Targets for trust_test.ts: a child imports its target by name, so each is
// exported here.
import type { Event } from "../event.ts";
import { currentProcess } from "../process.ts";
import type { Queue } from "../queue.ts";
import type { Value } from "../shared.ts";

/** Sends this process's authkey back. */
export function sendAuthkey(out: Queue<Uint8Array>): void {
  out.putSync(currentProcess().authkey);
}

/** Tells the parent it runs, then waits to be let go. */
export async function holdSecret(
  _secret: string,
  started: Event,
  release: Event,
): Promise<void> {
  started.set();
  await release.wait();
}

/**
 * Tells the parent it runs, waits to be let go, then adds one to `value` and
 * puts an item on `queue`: what an intruder would have done if it could.
 */
export async function workWhenLetGo(
  queue: Queue<string>,
  value: Value<"i">,
  started: Event,
  go: Event,
): Promise<void> {
  started.set();
  await go.wait();
  value.value += 1;
  queue.putSync("from the child");
}
