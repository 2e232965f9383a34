// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of what a subprocess child inherits of its parent's command
// line, and of the flags it then gets: no child process.
import assert from "node:assert/strict";
import { parseCommandLine } from "./setup.ts";
import { grantsOf, noFlags, permissionFlags } from "./permissions.ts";

const cwd = Deno.cwd();

Deno.test("parseCommandLine: the setup flags pass on, paths made absolute", () => {
  const { flags, config } = parseCommandLine([
    "deno",
    "run",
    "-c",
    "conf/deno.json",
    "--import-map=map.json",
    "--lock",
    "--env-file",
    "--env-file=/etc/app.env",
    "--unstable-kv",
    "--unstable",
    "--cached-only",
    "--no-remote",
    "--node-modules-dir=auto",
    "--reload",
    "--inspect",
    "main.ts",
    "--cached-only",
    "--allow-all",
  ]);
  assert.equal(config, true);
  assert.deepEqual(flags, [
    `--config=${cwd}/conf/deno.json`,
    `--import-map=${cwd}/map.json`,
    `--lock=${cwd}/deno.lock`,
    `--env-file=${cwd}/.env`,
    "--env-file=/etc/app.env",
    "--unstable-kv",
    "--unstable",
    "--cached-only",
    "--no-remote",
    "--node-modules-dir=auto",
  ]);
});

Deno.test("parseCommandLine: what follows the main module is its own", () => {
  const { flags, permissions } = parseCommandLine([
    "deno",
    "main.ts",
    "--deny-read=/x",
    "--unstable-kv",
  ]);
  assert.deepEqual(flags, []);
  assert.deepEqual(permissions, noFlags());
  // deno test takes files among its flags, up to "--".
  const test = parseCommandLine([
    "deno",
    "test",
    "a_test.ts",
    "--deny-env=HOME",
    "b_test.ts",
    "--",
    "--deny-read=/x",
  ]);
  assert.deepEqual(test.permissions?.deny, new Map([["env", ["HOME"]]]));
});

Deno.test("parseCommandLine: grants, denials and ignores, by kind", () => {
  const { permissions } = parseCommandLine([
    "deno",
    "run",
    "--allow-read=/a,b",
    "-E=HOME,USER",
    "--allow-net",
    "-W",
    "--deny-read=secret.txt",
    "--deny-read=/etc/shadow",
    "--deny-sys",
    "--ignore-env=AWS_SECRET",
    "--allow-scripts",
    "main.ts",
  ]);
  assert.deepEqual(
    permissions?.lists,
    new Map([["read", ["/a", `${cwd}/b`]], ["env", ["HOME", "USER"]]]),
  );
  assert.deepEqual(
    permissions?.deny,
    new Map<string, true | string[]>([
      ["read", [`${cwd}/secret.txt`, "/etc/shadow"]],
      ["sys", true],
    ]),
  );
  assert.deepEqual(permissions?.ignore, new Map([["env", ["AWS_SECRET"]]]));
  // -A grants every kind in full: no lists.
  const all = parseCommandLine(["deno", "run", "-A", "-R=/a", "main.ts"]);
  assert.deepEqual(all.permissions?.lists, new Map());
  // A permission set of the configuration cannot be checked here.
  const sets = parseCommandLine(["deno", "run", "-P", "main.ts"]);
  assert.equal(sets.permissions, null);
});

Deno.test("permissionFlags: the parent's denials go with every kind the child gets", () => {
  const parent = noFlags();
  parent.deny.set("read", ["/secret"]);
  parent.deny.set("env", ["HOME"]);
  parent.ignore.set("env", ["TOKEN"]);
  parent.deny.set("run", true);
  const grants = grantsOf("inherit", parent);
  assert.deepEqual(permissionFlags(grants, parent), [
    "--allow-all",
    "--deny-read=/secret",
    "--deny-env=HOME",
    "--ignore-env=TOKEN",
    "--deny-run",
  ]);
  // Only with the kinds it gets.
  const some = grantsOf({ read: true }, parent);
  assert.deepEqual(permissionFlags(some, parent), [
    "--allow-read",
    "--deny-read=/secret",
  ]);
});

Deno.test({
  name: "grantsOf: a kind granted by a list is inherited as the same list",
  permissions: { read: ["/tmp", "/etc/hosts"], env: ["HOME"] },
  fn() {
    const parent = noFlags();
    parent.lists.set("read", ["/tmp", "/etc/hosts", "/nowhere"]);
    parent.lists.set("env", ["HOME"]);
    // What this process no longer holds (a test's narrower permissions,
    // or a revoked one) is left out.
    assert.deepEqual(
      Object.fromEntries(grantsOf("inherit", parent)),
      { read: ["/tmp", "/etc/hosts"], env: ["HOME"] },
    );
  },
});

Deno.test("grantsOf: without the command line, a kind held in full is refused, naming the option", () => {
  for (const options of ["inherit", { env: "inherit" }, { env: true }]) {
    assert.throws(
      () => grantsOf(options as "inherit", null),
      (error: unknown) => {
        assert.ok(error instanceof Deno.errors.NotCapable, String(error));
        assert.match(error.message, /cannot read its own command line/);
        assert.match(error.message, /permissions: \{ \w+: \[\.\.\.\] \}/);
        return true;
      },
    );
  }
  // Items are checked one by one, and none is refused.
  assert.deepEqual(
    Object.fromEntries(grantsOf({ env: ["HOME"] }, null)),
    { env: ["HOME"] },
  );
  assert.deepEqual(permissionFlags(grantsOf("none", null), null), []);
});
