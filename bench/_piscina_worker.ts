// The task of pool_bench.ts for piscina, which loads a task as the default
// export of its own module.
export default function inc(x: number): number {
  return x + 1;
}
