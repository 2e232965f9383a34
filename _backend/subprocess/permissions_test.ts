// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of the permission flags a subprocess child gets: no child
// process. Tests that need this process to hold less than everything say
// so through Deno.test's own `permissions` option.
import assert from "node:assert/strict";
import {
  grantItems,
  type Grants,
  grantsOf,
  permissionFlags,
} from "./permissions.ts";

const ALL_KINDS = [
  "read",
  "write",
  "net",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
] as const;

/** The grants as a plain object, for comparing. */
function plain(grants: Grants): Record<string, true | string[]> {
  return Object.fromEntries(grants);
}

Deno.test('grantsOf: "none" grants nothing, and nothing is no flag at all', () => {
  const grants = grantsOf("none");
  assert.equal(grants.size, 0);
  assert.deepEqual(permissionFlags(grants), []);
});

Deno.test('grantsOf: "inherit" (the default) from a process holding all is --allow-all', () => {
  for (const grants of [grantsOf(), grantsOf("inherit")]) {
    assert.deepEqual([...grants.keys()], [...ALL_KINDS]);
    assert.ok([...grants.values()].every((value) => value === true));
    assert.deepEqual(permissionFlags(grants), ["--allow-all"]);
  }
});

Deno.test('grantsOf: every kind "inherit" is the same as "inherit"', () => {
  const options = Object.fromEntries(
    ALL_KINDS.map((kind) => [kind, "inherit" as const]),
  );
  assert.deepEqual(permissionFlags(grantsOf(options)), ["--allow-all"]);
});

Deno.test("grantsOf: an object grants what it names, flags in a fixed kind order", () => {
  const grants = grantsOf({
    run: true,
    net: ["example.com", "localhost:8080"],
    read: true,
    env: false,
    write: undefined,
  });
  assert.deepEqual(plain(grants), {
    read: true,
    net: ["example.com", "localhost:8080"],
    run: true,
  });
  assert.deepEqual(permissionFlags(grants), [
    "--allow-read",
    "--allow-net=example.com,localhost:8080",
    "--allow-run",
  ]);
});

Deno.test("grantsOf: an empty object or empty lists grant nothing", () => {
  assert.deepEqual(plain(grantsOf({})), {});
  assert.deepEqual(plain(grantsOf({ read: [], net: [] })), {});
  assert.deepEqual(permissionFlags(grantsOf({ read: [] })), []);
});

Deno.test("grantsOf: URLs name a path for files, a host for the network", () => {
  const grants = grantsOf({
    read: [new URL("file:///tmp/data/in.txt"), "/etc/hosts"],
    write: [new URL("file:///tmp/out")],
    net: [new URL("https://example.com:8443/path?q=1")],
    import: [new URL("https://jsr.io/@std/")],
  });
  assert.deepEqual(plain(grants), {
    read: ["/tmp/data/in.txt", "/etc/hosts"],
    write: ["/tmp/out"],
    net: ["example.com:8443"],
    import: ["jsr.io"],
  });
  assert.deepEqual(permissionFlags(grants), [
    "--allow-read=/tmp/data/in.txt,/etc/hosts",
    "--allow-write=/tmp/out",
    "--allow-net=example.com:8443",
    "--allow-import=jsr.io",
  ]);
});

Deno.test("grantsOf: malformed options are a TypeError naming what was wrong", () => {
  const cases: [unknown, RegExp][] = [
    [null, /permissions must be "inherit", "none" or an object/],
    ["all", /got "all"/],
    [42, /got 42/],
    [{ disk: true }, /Unknown permission kind "disk"/],
    [{ hrtime: true }, /Unknown permission kind "hrtime"/],
    [{ read: "yes" }, /permissions\.read must be .* got "yes"/],
    [{ net: 1 }, /permissions\.net must be .* got 1/],
    [{ env: null }, /permissions\.env must be .* got null/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => grantsOf(options as Parameters<typeof grantsOf>[0]),
      (error: unknown) => {
        assert.ok(error instanceof TypeError, String(error));
        assert.match(error.message, message);
        return true;
      },
    );
  }
});

Deno.test("grantItems: adds to a list, starts one, and leaves a full grant alone", () => {
  const grants = grantsOf({ read: ["/a"], write: true });
  grantItems(grants, "read", ["/b", "/c"]);
  grantItems(grants, "write", ["/d"]);
  grantItems(grants, "env", ["HOME"]);
  assert.deepEqual(plain(grants), {
    read: ["/a", "/b", "/c"],
    write: true,
    env: ["HOME"],
  });
  assert.deepEqual(permissionFlags(grants), [
    "--allow-read=/a,/b,/c",
    "--allow-write",
    "--allow-env=HOME",
  ]);
});

Deno.test("permissionFlags: all kinds but one in full is no --allow-all", () => {
  const grants: Grants = new Map(ALL_KINDS.map((kind) => [kind, true]));
  assert.deepEqual(permissionFlags(grants), ["--allow-all"]);
  grants.set("ffi", ["/lib/x.so"]);
  const flags = permissionFlags(grants);
  assert.equal(flags.length, ALL_KINDS.length);
  assert.ok(!flags.includes("--allow-all"));
  assert.ok(flags.includes("--allow-ffi=/lib/x.so"));
  assert.ok(flags.includes("--allow-import"));
});

Deno.test({
  name: 'grantsOf: "inherit" passes on only the kinds held in full',
  permissions: { read: ["/tmp"], env: true, net: false },
  fn() {
    const grants = grantsOf("inherit");
    assert.deepEqual(plain(grants), { env: true });
    assert.deepEqual(permissionFlags(grants), ["--allow-env"]);
    assert.deepEqual(plain(grantsOf({ env: "inherit", read: "inherit" })), {
      env: true,
    });
  },
});

Deno.test({
  name: "grantsOf: asking for more than this process holds is NotCapable",
  permissions: { read: ["/tmp"], net: ["example.com"] },
  fn() {
    // What is held is granted, item by item.
    assert.deepEqual(
      plain(grantsOf({ read: ["/tmp/x", "/tmp"], net: ["example.com"] })),
      { read: ["/tmp/x", "/tmp"], net: ["example.com"] },
    );
    const cases: [Parameters<typeof grantsOf>[0], RegExp][] = [
      [{ read: true }, /all read permission.*--allow-read/],
      [{ write: true }, /all write permission/],
      [{ read: ["/tmp/x", "/etc"] }, /read permission for "\/etc"/],
      [{ net: ["other.example"] }, /net permission for "other\.example"/],
      [{ env: ["HOME"] }, /env permission for "HOME"/],
    ];
    for (const [options, message] of cases) {
      assert.throws(
        () => grantsOf(options),
        (error: unknown) => {
          assert.ok(error instanceof Deno.errors.NotCapable, String(error));
          assert.match(error.message, message);
          return true;
        },
      );
    }
  },
});

Deno.test({
  name: 'grantsOf: a process holding nothing gives nothing on "inherit"',
  permissions: "none",
  fn() {
    assert.deepEqual(plain(grantsOf("inherit")), {});
    assert.deepEqual(permissionFlags(grantsOf()), []);
    assert.throws(() => grantsOf({ sys: true }), Deno.errors.NotCapable);
  },
});
