// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's mp_fork_bomb.py, ported for no_fork_bomb_test.ts: a program
// WITHOUT the `import.meta.main` guard. Its child imports it to find `foo`
// and runs its top level again, which must fail (Python: RuntimeError;
// here: ProcessError) rather than start processes without end.
// Deno.args: [start method].
import { type Backend, exit, Process, setStartMethod } from "../process.ts";

export function foo(): void {
  console.log("123");
}

// Because "if (import.meta.main)" is missing this will not work correctly;
// however, we should get a ProcessError rather than a fork bomb.
setStartMethod((Deno.args[0] ?? "worker") as Backend);

const p = new Process({ target: foo });
p.start();
await p.join();
exit(p.exitCode);
