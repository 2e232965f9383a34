// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The program of _TestPoolWorkerLifetime's
// test_worker_finalization_via_atexit_handler_of_multiprocessing: a pool
// held by an object and never closed. Run with the backend as argument.
import { getContext } from "../context.ts";
import type { Backend } from "../process.ts";
import type { Pool } from "../pool.ts";

/** Python's `float`, as a task. */
export function float(x: number): number {
  return x + 0.0;
}

let problem: A | undefined;

class A {
  pool: Pool;
  constructor() {
    this.pool = new (getContext(Deno.args[0] as Backend).Pool)({
      processes: 1,
    });
  }
}

async function test(): Promise<void> {
  problem = new A();
  await problem.pool.map(float, Array.from({ length: 10 }, (_, i) => i));
}

if (import.meta.main) {
  await test();
}
