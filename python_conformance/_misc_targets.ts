// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for start_method_test.ts, simple_queue_test.ts and
// stdin_bad_file_descriptor_test.ts (CPython's TestStartMethod,
// TestSimpleQueue and TestStdinBadfiledescriptor).
import { Empty } from "../errors.ts";
import type { Event } from "../event.ts";
import type { Connection } from "../pipe.ts";
import { Pool } from "../pool.ts";
import { getStartMethod, Process } from "../process.ts";
import { Queue, type SimpleQueue } from "../queue.ts";

// TestStartMethod

export function checkContext(conn: Connection): void {
  conn.send(getStartMethod());
}

export async function putOneInQueue(queue: Queue): Promise<void> {
  await queue.put(1);
}

export async function putTwoAndNestOnce(queue: Queue): Promise<void> {
  await queue.put(2);
  const process = new Process({ target: putOneInQueue, args: [queue] });
  process.start();
  await process.join();
}

// TestSimpleQueue

export async function testEmpty(
  queue: SimpleQueue,
  childCanStart: Event,
  parentCanContinue: Event,
): Promise<void> {
  await childCanStart.wait();
  // issue 30301, could fail under spawn and forkserver
  try {
    queue.put(queue.empty());
    queue.put(queue.empty());
  } finally {
    parentCanContinue.set();
  }
}

// TestStdinBadfiledescriptor

export async function thisSubProcess(q: Queue): Promise<void> {
  try {
    await q.get({ block: false });
  } catch (error) {
    if (!(error instanceof Empty)) throw error;
  }
}

export async function testProcess(): Promise<void> {
  const queue = new Queue();
  const subProc = new Process({ target: thisSubProcess, args: [queue] });
  subProc.daemon = true;
  subProc.start();
  await subProc.join();
}

export function afunc(x: number): number {
  return x * x;
}

export async function poolInProcess(): Promise<void> {
  const pool = new Pool({ processes: 4 });
  const _x = await pool.map(afunc, [1, 2, 3, 4, 5, 6, 7]);
  pool.close();
  await pool.join();
}
