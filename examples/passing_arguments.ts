// The article's second example: pass arguments to the target.
import { Process } from "../mod.ts";

export function display(myName: string) {
  console.log("Hi !!! " + myName);
}

if (import.meta.main) {
  const p = new Process({ target: display, args: ["Python"] });
  p.start();
  await p.join();
}
