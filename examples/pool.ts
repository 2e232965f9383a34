// Counting primes with a Pool: the same job run serially and on a pool of
// workers (with both timings), then once more with a progress bar and its
// ETA, drawn from the pool's `onProgress` (nothing is drawn when stdout is
// not a terminal).
//
//   deno run -A examples/pool.ts
import { cpuCount, Pool, type Progress } from "../mod.ts";

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

/**
 * Draws `[#####.....] 12/48 parts, 1.2 s left` in place, on a terminal
 * only: piped or redirected output stays clean.
 */
function drawProgress({ done, total, elapsedMs }: Progress): void {
  if (!Deno.stdout.isTerminal() || total === undefined) return;
  const width = 30;
  const full = Math.round(width * done / total);
  const bar = "#".repeat(full) + ".".repeat(width - full);
  const left = done ? (elapsedMs / done) * (total - done) / 1000 : NaN;
  const eta = done === total
    ? `done in ${(elapsedMs / 1000).toFixed(1)} s`
    : Number.isFinite(left)
    ? `${left.toFixed(1)} s left`
    : "";
  const line = `\r[${bar}] ${done}/${total} parts, ${eta}\x1b[K`;
  Deno.stdout.writeSync(encoder.encode(line));
  if (done === total) Deno.stdout.writeSync(encoder.encode("\n"));
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

  // One task a message, so that progress comes part by part.
  const again = (await pool.map(countPrimes, parts, {
    chunksize: 1,
    onProgress: drawProgress,
  })).reduce((a, b) => a + b, 0);
  console.log(
    `with progress: ${again} primes, ${
      again === serial ? "same" : "DIFFERENT"
    }`,
  );
  if (total !== serial || again !== serial) Deno.exit(1);
}
