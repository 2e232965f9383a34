// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Counts the ported CPython tests that passed, failed and were ignored, per
 * CPython class and backend, and prints the table as Markdown (the one in
 * README.md and python_conformance/README.md).
 *
 * ```sh
 * deno run --allow-all python_conformance/count.ts            # runs the tests
 * deno run --allow-all python_conformance/count.ts report.xml # counts a JUnit report
 * ```
 *
 * Without an argument it runs `deno test --allow-all python_conformance/`
 * with a JUnit report, which it then reads. Every test is named
 * `<backend>: <CPython class>.<CPython test>` (a step of a test too, as
 * _TestPool's are); other entries of the report, such as the test that
 * holds those steps, are not counted. Exits with 1 when a test failed.
 *
 * @module
 */

const BACKENDS = ["worker", "subprocess"] as const;
type Backend = typeof BACKENDS[number];
type Outcome = "passed" | "failed" | "ignored";

/** One test of the report. */
export interface Result {
  backend: Backend;
  cpythonClass: string;
  test: string;
  outcome: Outcome;
}

const NAME = /^(worker|subprocess): (\w+)\.(\w+)$/;

/** The tests named after a CPython test in a JUnit report of `deno test`. */
export function parseJunit(xml: string): Result[] {
  const results: Result[] = [];
  const testcase =
    /<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const match of xml.matchAll(testcase)) {
    // A step is named "<test> > <step>": the step's own name counts.
    const name = unescape(match[1]).split(" > ").at(-1)!;
    const parts = NAME.exec(name);
    if (!parts) continue;
    const body = match[3] ?? "";
    results.push({
      backend: parts[1] as Backend,
      cpythonClass: parts[2],
      test: parts[3],
      outcome: /<(failure|error)\b/.test(body)
        ? "failed"
        : /<skipped\b/.test(body)
        ? "ignored"
        : "passed",
    });
  }
  return results;
}

function unescape(text: string): string {
  return text.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, entity: string) =>
      ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[entity]!,
  );
}

type Counts = Record<Outcome, number>;

const zero = (): Counts => ({ passed: 0, failed: 0, ignored: 0 });

/** The Markdown table of `results`: one row per class, then the totals. */
export function table(results: Result[]): string {
  const byClass = new Map<string, Record<Backend, Counts>>();
  const total: Record<Backend, Counts> = { worker: zero(), subprocess: zero() };
  for (const { backend, cpythonClass, outcome } of results) {
    let row = byClass.get(cpythonClass);
    if (!row) {
      byClass.set(cpythonClass, row = { worker: zero(), subprocess: zero() });
    }
    row[backend][outcome]++;
    total[backend][outcome]++;
  }
  const cell = (c: Counts) => `${c.passed} / ${c.failed} / ${c.ignored}`;
  const order = (name: string) => name.replace(/^_/, "").toLowerCase();
  const rows = [...byClass.keys()]
    .sort((a, b) => order(a).localeCompare(order(b)))
    .map((name) => {
      const row = byClass.get(name)!;
      return [`\`${name}\``, cell(row.worker), cell(row.subprocess)];
    });
  rows.push(["**total**", cell(total.worker), cell(total.subprocess)]);
  const header = [
    "CPython class",
    "worker: passed / failed / ignored",
    "subprocess: passed / failed / ignored",
  ];
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ].join("\n");
}

/** Runs the conformance tests with a JUnit report; returns the report. */
async function runTests(): Promise<string> {
  const report = await Deno.makeTempFile({ suffix: ".xml" });
  try {
    const here = new URL(".", import.meta.url);
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--allow-all",
        `--junit-path=${report}`,
        here.pathname,
      ],
      stdout: "null",
      stderr: "inherit",
    }).output();
    const xml = await Deno.readTextFile(report);
    if (code !== 0 && !xml.includes("<testcase")) {
      throw new Error(`deno test exited with ${code} and reported no test`);
    }
    return xml;
  } finally {
    await Deno.remove(report).catch(() => {});
  }
}

if (import.meta.main) {
  const xml = Deno.args[0]
    ? await Deno.readTextFile(Deno.args[0])
    : await runTests();
  const results = parseJunit(xml);
  console.log(table(results));
  if (results.some((r) => r.outcome === "failed")) Deno.exit(1);
}
