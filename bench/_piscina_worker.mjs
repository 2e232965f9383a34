// The tasks of pool_bench.ts for piscina, in plain JavaScript so that the
// same file serves piscina under Deno and under Node. piscina runs a
// module's default export, or the export named in `run(task, { name })`.
export default function inc(x) {
  return x + 1;
}

/** A chunk of tasks in one call: what the user batching by hand writes. */
export function incAll(xs) {
  return xs.map(inc);
}
