// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for process_test.ts (CPython's _TestProcess): a child
// imports its target by name, so each is exported. Names are CPython's in
// camelCase, without the leading underscore.
import type { Connection } from "../pipe.ts";
import type { Event } from "../event.ts";
import type { Queue } from "../queue.ts";
import { currentProcess, exit, parentProcess, Process } from "../process.ts";
import { sleep } from "./_util.ts";

/** Python's `**kwds` of `_test`: the last argument, a plain object. */
type Kwds = Record<string, unknown>;

/** `_test(cls, q, *args, **kwds)`: reports what the child was given. */
export async function test(q: Queue, ...rest: unknown[]): Promise<void> {
  const current = currentProcess();
  const kwds = (rest.pop() ?? {}) as Kwds;
  await q.put(rest);
  await q.put(kwds);
  await q.put(current.name);
  await q.put((current as unknown as { authkey: unknown }).authkey);
  await q.put(current.pid);
}

export async function testArgs(q: Queue, arg: unknown): Promise<void> {
  await q.put(arg);
}

export function testSendParentProcess(wconn: Connection): void {
  const parent = parentProcess()!;
  wconn.send([parent.pid, parent.name]);
}

export async function testCreateGrandchildProcess(
  wconn: Connection,
): Promise<void> {
  const p = new Process({ target: testReportParentStatus, args: [wconn] });
  p.start();
  await sleep(300_000);
}

export async function testReportParentStatus(wconn: Connection): Promise<void> {
  const parent = parentProcess()!;
  wconn.send(parent.isAlive() ? "alive" : "not alive");
  await parent.join(30_000); // support.SHORT_TIMEOUT
  wconn.send(parent.isAlive() ? "alive" : "not alive");
}

export async function sleepSome(): Promise<void> {
  await sleep(100_000);
}

export async function sleepSomeEvent(event: Event): Promise<void> {
  event.set();
  await sleep(100_000);
}

export async function testSleep(delay: number): Promise<void> {
  await sleep(delay);
}

/** `target=event.wait` of test_active_children. */
export async function eventWait(event: Event): Promise<void> {
  await event.wait();
}

export async function testRecursion(
  wconn: Connection,
  id: number[],
): Promise<void> {
  wconn.send(id);
  if (id.length < 2) {
    for (let i = 0; i < 2; i++) {
      const p = new Process({
        target: testRecursion,
        args: [wconn, [...id, i]],
      });
      p.start();
      await p.join();
    }
  }
}

export async function testClose(rc = 0, q?: Queue): Promise<void> {
  if (q !== undefined) await q.get();
  exit(rc);
}
