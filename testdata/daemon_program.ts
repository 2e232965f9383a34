// Run by process_test.ts: a main program that leaves one daemon child idle
// forever and one non-daemon child still working, and joins neither. Like
// Python, it must wait for the non-daemon child and not for the daemon one.
import { Process } from "../process.ts";

export function idleForever(): Promise<void> {
  return new Promise(() => {});
}

export async function finishSoon(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log("non-daemon child done");
}

if (import.meta.main) {
  new Process({ target: idleForever, daemon: true }).start();
  new Process({ target: finishSoon }).start();
  console.log("main done");
}
