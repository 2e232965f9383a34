// Queue throughput: a child puts 100k small ints and the parent gets them,
// beside a bare Worker posting the same ints one message each and Python's
// multiprocessing.Queue, in one run. Timed from the child's first item to
// the parent's last get, so start-up is not counted.
//
//   deno run -A bench/queue_bench.ts
import { Process } from "../process.ts";
import { Queue } from "../queue.ts";
import { median, report, runPython } from "./_report.ts";

/** The child: a start mark, then `count` ints. */
export async function produce(q: Queue<number>, count: number): Promise<void> {
  await q.put(-1);
  for (let i = 0; i < count; i++) await q.put(i);
}

/** Items per second through a Queue from a child. */
async function queueRate(count: number): Promise<number> {
  const q = new Queue<number>();
  const p = new Process({ target: produce, args: [q, count] });
  p.start();
  await q.get(); // the start mark
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await q.get();
  const seconds = (performance.now() - start) / 1000;
  await p.join();
  if (sum !== count * (count - 1) / 2) throw new Error(`wrong sum ${sum}`);
  return count / seconds;
}

/** Messages per second posted one by one by a bare Worker. */
async function postMessageRate(count: number): Promise<number> {
  const worker = new Worker(new URL("./_raw_echo_worker.ts", import.meta.url), {
    type: "module",
  });
  const { port1, port2 } = new MessageChannel();
  let start = 0;
  let got = 0;
  let sum = 0;
  const done = new Promise<void>((resolve) => {
    port1.onmessage = (e) => {
      if (e.data === -1) {
        start = performance.now();
        return;
      }
      sum += e.data;
      if (++got === count) resolve();
    };
  });
  worker.postMessage({ mode: "flood", port: port2, count }, [port2]);
  await done;
  const seconds = (performance.now() - start) / 1000;
  port1.close();
  if (sum !== count * (count - 1) / 2) throw new Error(`wrong sum ${sum}`);
  return count / seconds;
}

if (import.meta.main) {
  const count = 100_000;
  const runs = 3;
  const queue: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < runs; r++) {
    raw.push(await postMessageRate(count));
    queue.push(await queueRate(count));
  }
  const python = await runPython("queue_bench.py", [
    String(count),
    String(runs),
  ]);
  const ours = median(queue);
  const bare = median(raw);
  report(
    `Queue throughput, ${count} small ints child -> parent (median items/s)`,
    [
      { what: "Queue (worker backend)", value: ours, unit: "items/s" },
      {
        what: "raw postMessage per item (Worker)",
        value: bare,
        unit: "items/s",
      },
      {
        what: "Python multiprocessing.Queue",
        value: python.rate,
        unit: "items/s",
      },
    ],
    [{
      what: "Queue / raw postMessage",
      value: ours / bare,
      target: ">= 1",
      met: ours / bare >= 1,
    }, {
      what: "Queue / Python Queue",
      value: ours / python.rate,
      target: ">= 3",
      met: ours / python.rate >= 3,
    }],
  );
}
