// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A parent that starts a subprocess child (daemon if `Deno.args[0]` is
// "daemon"), prints the child's pid once the child runs, then waits for
// good; subprocess_test.ts kills it and checks that the child ends too.
import { Event } from "../event.ts";
import { Process } from "../process.ts";

export function idleAfter(started: Event): Promise<void> {
  try {
    started.set();
  } catch {
    // The parent may be killed before the answer to set() comes back.
  }
  return new Promise(() => {});
}

if (import.meta.main) {
  const started = new Event();
  const p = new Process({
    target: idleAfter,
    args: [started],
    backend: "subprocess",
    daemon: Deno.args[0] === "daemon",
  });
  p.start();
  await started.wait();
  console.log(p.pid);
  await p.join();
}
