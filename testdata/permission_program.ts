// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Run by faults_test.ts with fewer permissions than a child needs: starts a
// child on the backend Deno.args[0] and prints its exit code.
import { type Backend, Process } from "../process.ts";

export function noop(): void {}

if (import.meta.main) {
  const p = new Process({ target: noop, backend: Deno.args[0] as Backend });
  p.start();
  console.log(await p.join());
}
