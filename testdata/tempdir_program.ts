// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A parent that starts a subprocess child, waits for it, prints "ready",
// then ends the way Deno.args[0] says: "return", "throw", "exit", "wait"
// (for a signal from the test), "block" (its main thread blocked for good,
// for a signal from the test), or "listen" (it handles SIGINT itself, by
// starting and joining another child and printing "handled SIGINT: <its
// exit code>", and waits for another signal).
import { Event } from "../event.ts";
import { Process } from "../process.ts";

export function noop(): void {}

if (import.meta.main) {
  const run = () => {
    const p = new Process({ target: noop, backend: "subprocess" });
    p.start();
    return p.join();
  };
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
