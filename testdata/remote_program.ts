// Run by remote_test.ts as `deno run -A remote_program.ts BASE_URL BACKEND...`:
// imports the library over HTTP, as a JSR import would be, and uses a
// Process, a Queue and a Lock across children on each backend named. Prints
// one line per check, then "remote ok".
const base = Deno.args[0];
const mp = await import(`${base}/mod.ts`) as typeof import("../mod.ts");

/** Puts 0..count-1 on the queue, each under the lock, counting in `total`. */
export async function produce(
  queue: { put(item: number): Promise<void> },
  lock: { acquire(): Promise<boolean>; release(): void },
  total: { value: number },
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await lock.acquire();
    try {
      total.value += 1;
    } finally {
      lock.release();
    }
    await queue.put(i);
  }
}

if (import.meta.main) {
  for (const backend of Deno.args.slice(1) as import("../mod.ts").Backend[]) {
    const queue = new mp.Queue<number>();
    const lock = new mp.Lock();
    const total = new mp.Value("i32", 0, { lock: false });
    const children = [0, 1].map(() =>
      new mp.Process({
        target: produce,
        args: [queue, lock, total, 50],
        backend,
      })
    );
    for (const child of children) child.start();
    for (const child of children) {
      const code = await child.join();
      if (code !== 0) throw new Error(`${backend}: exit code ${code}`);
    }
    let sum = 0;
    while (!queue.empty()) sum += await queue.get();
    if (sum !== 2 * (49 * 50) / 2 || total.value !== 100) {
      throw new Error(`${backend}: sum ${sum}, total ${total.value}`);
    }
    console.log(`${backend}: process, queue and lock ok`);
  }
  console.log("remote ok");
}
