// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A program WITHOUT the `import.meta.main` guard: every process that imports
// this module (its children do, to find `work`) runs its top level again.
// Python's spawn refuses to start a process from such a re-import; so must
// we, or this starts children without end. Deno.args: [backend, "process" |
// "pool"]. The program exits with its child's exit code (or 1 for a failed
// map), printing the child's error message.
import { Pool } from "../pool.ts";
import { type Backend, Process } from "../process.ts";

export function work(): number {
  return 1;
}

const backend = Deno.args[0] as Backend;
if (Deno.args[1] === "pool") {
  const pool = new Pool({ processes: 1, backend });
  try {
    // The pool's worker imports this module to find `work`: a pool worker
    // refuses a pool of its own. A Process child importing it must refuse
    // too: see the "process" case.
    console.log(await pool.map(work, [1]));
  } finally {
    pool.terminate();
  }
} else {
  const p = new Process({ target: work, backend });
  p.start();
  const code = await p.join();
  console.log(p.error?.message ?? "no error");
  Deno.exit(code ?? 1);
}
