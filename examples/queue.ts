// The article's Queue example: a child puts the even numbers of 0..9 on a
// queue; once it has ended, the parent gets everything it put.
import { Process, Queue } from "../mod.ts";

export async function evenno(numbers: number[], q: Queue<number>) {
  for (const n of numbers) {
    if (n % 2 === 0) await q.put(n);
  }
}

if (import.meta.main) {
  const q = new Queue<number>();
  const numbers = Array.from({ length: 10 }, (_, i) => i); // range(10)
  const p = new Process({ target: evenno, args: [numbers, q] });
  p.start();
  await p.join();
  while (!q.empty()) console.log(await q.get());
}
