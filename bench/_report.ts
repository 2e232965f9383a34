// Shared by the benchmarks: timing, medians, Python's side, and the table.

/** The median of some numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Times `fn` `runs` times after `warmup` runs; returns each run's ms. */
export async function timeRuns(
  fn: () => unknown,
  runs: number,
  warmup = 3,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times;
}

/**
 * Runs a Python benchmark script beside this file and returns the JSON
 * object it prints on its last line.
 */
export async function runPython(
  script: string,
  args: string[] = [],
): Promise<Record<string, number>> {
  const path = new URL(script, import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command("python3", {
    args: [path, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  if (code !== 0) {
    throw new Error(
      `python3 ${script} failed (${code}): ${new TextDecoder().decode(stderr)}`,
    );
  }
  return JSON.parse(text.split("\n").at(-1)!);
}

/** One row of a results table. */
export interface Row {
  what: string;
  value: number;
  unit: string;
}

/** Prints rows, then each ratio with its target and whether it was met. */
export function report(
  title: string,
  rows: Row[],
  ratios: { what: string; value: number; target: string; met: boolean }[],
): void {
  console.log(`\n## ${title}\n`);
  console.log("| measurement | value |");
  console.log("|---|---:|");
  for (const row of rows) {
    console.log(`| ${row.what} | ${format(row.value)} ${row.unit} |`);
  }
  console.log("\n| ratio | value | target | met |");
  console.log("|---|---:|---|---|");
  for (const r of ratios) {
    console.log(
      `| ${r.what} | ${r.value.toFixed(2)} | ${r.target} | ${
        r.met ? "yes" : "NO"
      } |`,
    );
  }
}

function format(value: number): string {
  return value >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(2);
}
