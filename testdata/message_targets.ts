// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Processes for the message tests of faults_test.ts. Their functions are
// started from this module, so it is the module a child looks in. Keep the
// option's name out of this file but as an object key (followed by a
// colon): the check at start() reads this source.
import { type Backend, Process } from "../process.ts";

/** A Process whose function is written in place, named after its key. */
export function inPlace(backend: Backend): Process {
  return new Process({ target: () => 1, backend });
}

function hidden(): void {}

/** A Process whose function is named, but not exported by this module. */
export function notExported(backend: Backend): Process {
  return new Process({ target: hidden, backend });
}
