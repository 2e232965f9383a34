// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for queue_test.ts (CPython's _TestQueue).
import type { Event } from "../event.ts";
import type { JoinableQueue, Queue } from "../queue.ts";
import { DELTA, sleep } from "./_util.ts";

export async function testPut(
  queue: Queue,
  childCanStart: Event,
  parentCanContinue: Event,
): Promise<void> {
  await childCanStart.wait();
  for (let i = 0; i < 6; i++) await queue.get();
  parentCanContinue.set();
}

export async function testGet(
  queue: Queue,
  childCanStart: Event,
  parentCanContinue: Event,
): Promise<void> {
  await childCanStart.wait();
  // await queue.put(1);
  await queue.put(2);
  await queue.put(3);
  await queue.put(4);
  await queue.put(5);
  parentCanContinue.set();
}

export async function testFork(queue: Queue): Promise<void> {
  for (let i = 10; i < 20; i++) await queue.put(i);
}

export async function testTaskDone(q: JoinableQueue): Promise<void> {
  for (let obj = await q.get(); obj !== null; obj = await q.get()) {
    await sleep(DELTA);
    q.taskDone();
  }
}
