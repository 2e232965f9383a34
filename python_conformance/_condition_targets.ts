// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children's targets for condition_test.ts (CPython's _TestCondition).
import type { Condition } from "../condition.ts";
import { exit } from "../process.ts";
import type { Semaphore } from "../semaphore.ts";
import type { Value } from "../shared.ts";
import { CLOCK_RES, sleep } from "./_util.ts";

export async function f(
  cond: Condition,
  sleeping: Semaphore,
  woken: Semaphore,
  timeout?: number,
): Promise<void> {
  await cond.acquire();
  sleeping.release();
  await cond.wait(timeout);
  woken.release();
  cond.release();
}

export async function testWaitforF(
  cond: Condition,
  state: Value<"i">,
): Promise<void> {
  using _ = await cond.hold();
  state.value = 0;
  cond.notify();
  const result = await cond.waitFor(() => state.value === 4);
  if (!result || state.value !== 4) exit(1);
}

export async function testWaitforTimeoutF(
  cond: Condition,
  state: Value<"i">,
  success: Value<"i">,
  sem: Semaphore,
): Promise<void> {
  sem.release();
  using _ = await cond.hold();
  const expected = 100;
  let dt = performance.now();
  const result = await cond.waitFor(() => state.value === 4, expected);
  dt = performance.now() - dt;
  if (!result && expected - CLOCK_RES <= dt) success.value = 1;
}

export async function testWaitResult(
  c: Condition,
  pid: number | null,
): Promise<void> {
  {
    using _ = await c.hold();
    c.notify();
  }
  await sleep(1000);
  if (pid !== null) Deno.kill(pid, "SIGINT");
}
