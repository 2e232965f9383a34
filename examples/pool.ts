// Counting primes with a Pool: the same job run serially and on a pool of
// workers (with both timings), then once more with `imap`, showing a
// progress bar as the results arrive (plain lines when stdout is not a
// terminal).
//
//   deno run -A examples/pool.ts
import { cpuCount, Pool } from "../mod.ts";

/** How many primes lie in [start, end): trial division, on purpose slow. */
export function countPrimes([start, end]: [number, number]): number {
  let count = 0;
  for (let n = Math.max(start, 2); n < end; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

const LIMIT = 1_500_000;
const PARTS = 48;

function ranges(): [number, number][] {
  const step = Math.ceil(LIMIT / PARTS);
  return Array.from(
    { length: PARTS },
    (_, i) => [i * step, Math.min(LIMIT, (i + 1) * step)],
  );
}

const encoder = new TextEncoder();

/** Shows `done` of `total`: a bar redrawn in place, or a line now and then. */
function progress(done: number, total: number): void {
  if (Deno.stdout.isTerminal()) {
    const width = 30;
    const full = Math.round(width * done / total);
    const bar = "#".repeat(full) + ".".repeat(width - full);
    Deno.stdout.writeSync(encoder.encode(`\r[${bar}] ${done}/${total}`));
    if (done === total) Deno.stdout.writeSync(encoder.encode("\n"));
  } else if (done % 12 === 0 || done === total) {
    console.log(`progress: ${done}/${total} parts`);
  }
}

if (import.meta.main) {
  const parts = ranges();
  const processes = Math.max(2, cpuCount());

  let start = performance.now();
  const serial = parts.map(countPrimes).reduce((a, b) => a + b, 0);
  const serialMs = performance.now() - start;
  console.log(
    `serial: ${serial} primes below ${LIMIT} in ${serialMs.toFixed(0)} ms`,
  );

  await using pool = new Pool({ processes });
  // Start the workers before timing them, as a long-lived pool would be.
  await pool.map(countPrimes, [[0, 10]]);
  start = performance.now();
  const counts = await pool.map(countPrimes, parts);
  const poolMs = performance.now() - start;
  const total = counts.reduce((a, b) => a + b, 0);
  console.log(
    `pool of ${processes}: ${total} primes in ${poolMs.toFixed(0)} ms (${
      (serialMs / poolMs).toFixed(2)
    }x the serial speed)`,
  );

  let done = 0;
  let again = 0;
  for await (const count of pool.imap(countPrimes, parts)) {
    again += count;
    progress(++done, parts.length);
  }
  console.log(
    `imap: ${again} primes, ${again === serial ? "same" : "DIFFERENT"}`,
  );
  if (total !== serial || again !== serial) Deno.exit(1);
}
