// A target that says it runs, then holds its child alive until the child is
// ended: for the memory rows of process_bench.ts and subprocess_bench.ts.
// No imports, so that a child loads nothing beyond the library's entry.

/**
 * Says it runs: counts itself in `cells[0]` (a Worker child, given a
 * SharedArrayBuffer), or writes the file `marker` (a subprocess child, or
 * a bare `deno run` of this module); then never returns.
 */
export function hold(cells: Int32Array | string): Promise<void> {
  if (typeof cells === "string") {
    Deno.writeTextFileSync(cells, "up");
  } else {
    Atomics.add(cells, 0, 1);
    Atomics.notify(cells, 0);
  }
  return new Promise(() => {});
}

// Run as a program (a bare `deno run` beside subprocess children): the
// marker's path is its argument; a timer keeps it running until killed.
if (import.meta.main) {
  hold(Deno.args[0]);
  setInterval(() => {}, 2 ** 30);
}
