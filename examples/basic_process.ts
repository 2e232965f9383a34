// The article's first example: start a process and wait for it.
import { Process } from "../mod.ts";

export function display() {
  console.log("Hi !! I am Python");
}

if (import.meta.main) {
  const p = new Process({ target: display });
  p.start();
  await p.join();
}
