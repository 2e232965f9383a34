// A program that uses a pool and never closes it: it must still end, as a
// Python program does (pool workers are daemons).
import { Pool } from "../pool.ts";

export function inc(x: number): number {
  return x + 1;
}

if (import.meta.main) {
  const pool = new Pool({ processes: 2 });
  console.log(await pool.map(inc, [1, 2, 3]));
}
