// Run by process_test.ts: a main program whose only pending work is the
// join of a daemon child (which alone does not keep the program running).
// As Python's join() blocks, the join must keep the program running until
// the child ends. Deno.args: [backend]. Prints the child's exit code. The
// join is not awaited at the top level: a pending top-level await keeps
// `deno run` going by itself, as a join awaited in a function (a test, a
// server's handler) does not.
import { type Backend, Process } from "../process.ts";

export async function nap(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 200));
}

if (import.meta.main) {
  const p = new Process({
    target: nap,
    daemon: true,
    backend: Deno.args[0] as Backend,
  });
  p.start();
  p.join().then((code) => console.log(code));
}
