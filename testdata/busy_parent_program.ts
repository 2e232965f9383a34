// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A parent of one subprocess child that never yields to its event loop:
// busy in its target ("busy"), or still loading its module ("loading").
// It prints the child's pid, then waits for good ("wait": the test kills it
// with a signal) or dies of an uncaught error ("crash").
// Deno.args: [child: "busy" | "loading", end: "wait" | "crash", "daemon" | "plain"].
import { Event } from "../event.ts";
import { Process } from "../process.ts";

export function spinAfter(started: Event): void {
  started.set();
  for (;;) {
    // Busy in synchronous code: the child never sees its socket close.
  }
}

if (import.meta.main) {
  const [child, end, daemon] = Deno.args;
  const started = new Event();
  const p = new Process({
    target: child === "loading"
      ? {
        module: new URL("./loading_forever.ts", import.meta.url),
        export: "neverReached",
      }
      : spinAfter,
    args: child === "loading" ? [] : [started],
    backend: "subprocess",
    daemon: daemon === "daemon",
  });
  p.start();
  if (child !== "loading") await started.wait();
  console.log(p.pid);
  if (end === "crash") throw new Error("the parent crashed");
  await p.join();
}
