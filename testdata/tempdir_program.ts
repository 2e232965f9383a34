// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A parent that starts a subprocess child, waits for it, prints "ready",
// then ends the way Deno.args[0] says: "return", "throw", "exit", "wait"
// (for a signal from the test), "block" (its main thread blocked for good,
// for a signal from the test), or "listen" (it handles SIGINT itself, by
// starting and joining another child and printing "handled SIGINT: <its
// exit code>", and waits for another signal). With "proxy" and a path, it
// prints "ready" once it started a child that is given an Event, then
// "child <exit code> set <the Event's state>": the child sets the Event,
// but only once that path exists (its import of this module waits for it,
// so that it has not used the Event before).
import { Event } from "../event.ts";
import { Process } from "../process.ts";

export function noop(): void {}

export function set(event: Event): void {
  event.set();
}

if (!import.meta.main && Deno.args[0] === "proxy") {
  for (;;) {
    try {
      Deno.statSync(Deno.args[1]);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

if (import.meta.main) {
  const run = () => {
    const p = new Process({ target: noop, backend: "subprocess" });
    p.start();
    return p.join();
  };
  if (Deno.args[0] === "proxy") {
    const event = new Event();
    const p = new Process({
      target: set,
      args: [event],
      backend: "subprocess",
    });
    p.start();
    console.log("ready");
    console.log(`child ${await p.join()} set ${event.isSet()}`);
    Deno.exit(0);
  }
  if (Deno.args[0] === "listen") {
    Deno.addSignalListener("SIGINT", async () => {
      console.log(`handled SIGINT: ${await run()}`);
    });
  }
  await run();
  console.log("ready");
  switch (Deno.args[0]) {
    case "throw":
      throw new Error("an uncaught error");
    case "exit":
      Deno.exit(3);
      break;
    case "block":
      new Event().waitSync();
      break;
    case "wait":
    case "listen":
      await new Promise(() => {
        setInterval(() => {}, 1_000);
      });
  }
}
