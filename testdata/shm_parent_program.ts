// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A parent of shm_primitives_test.ts: gives a Value, its Lock, a Queue, an
// Event and a Barrier to two subprocess children that count under the
// lock, prints what it saw as JSON (its pid, whether the primitives live
// in shared segments, the count, the pid of a child it leaves waiting),
// then ends the way Deno.args[0] says: "return", "throw", or "wait" (for a
// signal).
import { Process } from "../process.ts";
import { SharedArray, Value } from "../shared.ts";
import { Queue } from "../queue.ts";
import { Event } from "../event.ts";
import { Barrier } from "../barrier.ts";
import { inSegment } from "../_shm/memory.ts";

const SHM_TARGETS = new URL("./shm_targets.ts", import.meta.url);
const SYNC_TARGETS = new URL("./sync_targets.ts", import.meta.url);

if (import.meta.main) {
  const counter = new Value("i32", 0);
  const queue = new Queue<number>();
  const barrier = new Barrier(2);
  const counters = [0, 1].map(() =>
    new Process({
      target: { module: SHM_TARGETS, export: "increment" },
      args: [counter, 300],
      backend: "subprocess",
    })
  );
  for (const p of counters) p.start();
  for (const p of counters) await p.join();
  queue.put(counter.value);
  // A child left holding the lock, with the rest, when this process ends.
  const held = new Event();
  const waiting = new Process({
    target: { module: SYNC_TARGETS, export: "holdForever" },
    args: [counter.getLock(), held, new Event(), queue, barrier],
    backend: "subprocess",
    daemon: true,
  });
  waiting.start();
  console.log(JSON.stringify({
    pid: Deno.pid,
    segments: inSegment(new SharedArray("i32", 1).array.buffer),
    counted: await queue.get({ timeout: 30_000 }),
    exitCodes: counters.map((p) => p.exitCode),
    held: await held.wait(30_000),
    waiting: waiting.pid,
  }));
  if (Deno.args[0] === "throw") throw new Error("the program failed");
  if (Deno.args[0] === "wait") setInterval(() => {}, 1000);
}
