// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A program whose Worker child spins in pure JavaScript forever: it kills
// the child, joins it, and must then end by itself, with its own exit code.
import { Process } from "../process.ts";

if (import.meta.main) {
  const started = new Int32Array(new SharedArrayBuffer(4));
  const p = new Process({
    target: {
      module: new URL("./fault_targets.ts", import.meta.url),
      export: "spinForever",
    },
    args: [started],
  });
  p.start();
  while (Atomics.load(started, 0) === 0) {
    const wait = Atomics.waitAsync(started, 0, 0, 10_000);
    if (wait.async) await wait.value;
  }
  p.kill();
  console.log("joined", await p.join(), "alive", p.isAlive());
  Deno.exitCode = 3;
}
