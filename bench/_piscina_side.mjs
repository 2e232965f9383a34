// piscina's side of pool_bench.ts, in plain JavaScript so that it runs under
// Deno (`deno run -A bench/_piscina_side.mjs npm:piscina@^5`) and under Node
// (`node bench/_piscina_side.mjs <file URL of piscina>`) alike: the same
// work as ours, at piscina's best settings, median of runs. Prints JSON on
// its last line.
const args = globalThis.Deno ? globalThis.Deno.args : process.argv.slice(2);
const [specifier, tinyText, chunksText] = args;
const { Piscina } = await import(specifier);
const TINY = Number(tinyText);
const CHUNKS = Number(chunksText);
const PER_TASK = 20_000;
const BURST = 5_000;
const SEQUENTIAL = 2_000;
const filename = new URL("./_piscina_worker.mjs", import.meta.url).href;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `fn` 2 times to warm up, then `runs` times; the median ms. */
async function time(fn, runs = 5) {
  for (let i = 0; i < 2; i++) await fn();
  const times = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

function check(results, n) {
  if (results.length !== n || results[n - 1] !== n) {
    throw new Error("wrong result");
  }
}

// Many tasks in flight on each thread is piscina's best setting for tiny
// tasks (its default, 1, waits for each answer).
const piscina = new Piscina({
  filename,
  minThreads: 2,
  maxThreads: 2,
  concurrentTasksPerWorker: 16,
});
try {
  const items = Array.from({ length: TINY }, (_, i) => i);
  const size = Math.ceil(TINY / CHUNKS);
  const chunks = [];
  for (let i = 0; i < TINY; i += size) chunks.push(items.slice(i, i + size));
  const chunked = await time(async () => {
    const parts = await Promise.all(
      chunks.map((chunk) => piscina.run(chunk, { name: "incAll" })),
    );
    check(parts.flat(), TINY);
  });
  const few = items.slice(0, PER_TASK);
  const perTask = await time(async () => {
    check(await Promise.all(few.map((x) => piscina.run(x))), PER_TASK);
  }, 3);
  const burst = await time(async () => {
    check(
      await Promise.all(items.slice(0, BURST).map((x) => piscina.run(x))),
      BURST,
    );
  });
  const sequential = await time(async () => {
    for (let i = 0; i < SEQUENTIAL; i++) await piscina.run(i);
  }, 3);
  console.log(JSON.stringify({
    chunked_per_s: TINY / chunked * 1000,
    per_task_per_s: PER_TASK / perTask * 1000,
    burst_per_s: BURST / burst * 1000,
    sequential_us: sequential / SEQUENTIAL * 1000,
  }));
} finally {
  await piscina.destroy();
}
