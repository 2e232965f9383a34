// A target that says it runs, then holds its child alive until the child is
// ended: for the memory rows of process_bench.ts and subprocess_bench.ts.
// No imports, so that a child loads nothing beyond the library's entry.

/**
 * Counts itself in `cells[0]` (a Worker child, given a SharedArrayBuffer),
 * or prints "up" (a subprocess child, given none), then never returns.
 */
export function hold(cells?: Int32Array): Promise<void> {
  if (cells) {
    Atomics.add(cells, 0, 1);
    Atomics.notify(cells, 0);
  } else {
    console.log("up");
  }
  return new Promise(() => {});
}
