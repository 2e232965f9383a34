// Copyright 2026 the multiprocessing for Deno authors. MIT license.
import assert from "node:assert/strict";
import { parseJunit, table } from "./count.ts";

const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="5" failures="1" errors="0" time="1">
  <testsuite name="./x_test.ts" tests="5" disabled="1" errors="0" failures="1">
    <testcase name="worker: _TestPool" classname="./x_test.ts" time="0.1">
    </testcase>
    <testcase name="worker: _TestPool &gt; worker: _TestPool.test_map" classname="./x_test.ts" time="0.1">
    </testcase>
    <testcase name="subprocess: _TestPool &gt; subprocess: _TestPool.test_map" classname="./x_test.ts" time="0.1">
      <failure message="uncaught error">AssertionError</failure>
    </testcase>
    <testcase name="worker: TestStartMethod.test_context" classname="./x_test.ts" time="0">
      <skipped/>
    </testcase>
    <testcase name="count: a helper test" classname="./x_test.ts" time="0">
    </testcase>
  </testsuite>
</testsuites>`;

Deno.test("count: steps count by their own name; containers and other tests do not", () => {
  assert.deepEqual(parseJunit(REPORT), [
    {
      backend: "worker",
      cpythonClass: "_TestPool",
      test: "test_map",
      outcome: "passed",
    },
    {
      backend: "subprocess",
      cpythonClass: "_TestPool",
      test: "test_map",
      outcome: "failed",
    },
    {
      backend: "worker",
      cpythonClass: "TestStartMethod",
      test: "test_context",
      outcome: "ignored",
    },
  ]);
});

Deno.test("count: one row per class, in name order, then the totals", () => {
  const rows = table(parseJunit(REPORT)).split("\n").map((line) =>
    line.split("|").slice(1, -1).map((cell) => cell.trim())
  );
  assert.deepEqual(rows.slice(2), [
    ["`_TestPool`", "1 / 0 / 0", "0 / 1 / 0"],
    ["`TestStartMethod`", "0 / 0 / 1", "0 / 0 / 0"],
    ["**total**", "1 / 0 / 1", "0 / 1 / 0"],
  ]);
});
