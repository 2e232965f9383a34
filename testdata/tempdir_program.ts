// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A parent that starts a subprocess child, waits for it, prints "ready",
// then ends the way Deno.args[0] says: "return", "throw", "exit", or
// "wait" (for a signal from the test).
import { Process } from "../process.ts";

export function noop(): void {}

if (import.meta.main) {
  const p = new Process({ target: noop, backend: "subprocess" });
  p.start();
  await p.join();
  console.log("ready");
  switch (Deno.args[0]) {
    case "throw":
      throw new Error("an uncaught error");
    case "exit":
      Deno.exit(3);
      break;
    case "wait":
      await new Promise(() => {
        setInterval(() => {}, 1_000);
      });
  }
}
