// Two processes add to one shared counter, 50,000 times each, holding its
// lock around each read-modify-write: the total is exact.
import { Process, Value } from "../mod.ts";

export function work(counter: Value<"i">, times: number) {
  for (let i = 0; i < times; i++) {
    using _ = counter.getLock().holdSync();
    counter.value += 1;
  }
}

if (import.meta.main) {
  const counter = new Value("i", 0);
  const processes = [0, 1].map(() =>
    new Process({ target: work, args: [counter, 50_000] })
  );
  for (const p of processes) p.start();
  for (const p of processes) await p.join();
  console.log(counter.value);
}
