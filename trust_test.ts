// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A subprocess child runs with its parent's setup, never holds more than its
// parent, admits on its sockets only the holders of the tree's authkey, and
// carries nothing secret on its command line. The permission cases run real
// parent programs (testdata/trust_program.ts) with deny flags and partial
// grants, and compare what the child may do with what its parent may.
import assert from "node:assert/strict";
import { BACKENDS, ProgramRun, startChild } from "./_test_util.ts";
import { AuthenticationError } from "./errors.ts";
import { Event } from "./event.ts";
import { currentProcess } from "./process.ts";
import { Queue } from "./queue.ts";
import { Value } from "./shared.ts";
import { clientHandshake, connChannel, newAuthkey } from "./_net/handshake.ts";
import { socketDir } from "./_backend/subprocess/socket_dir.ts";

const TARGETS = new URL("./testdata/trust_targets.ts", import.meta.url);
const PROGRAM = new URL("./testdata/trust_program.ts", import.meta.url);
const MOD = new URL("./mod.ts", import.meta.url).href;

/** Runs a program to its end; returns its lines by their first word. */
async function runProgram(
  script: URL,
  args: string[],
  flags: string[],
  env: Record<string, string> = {},
): Promise<{ lines: Record<string, string>; stderr: string }> {
  await using run = new ProgramRun(script, args, { flags, env });
  const lines: Record<string, string> = {};
  for (let line = await run.line(); line !== null; line = await run.line()) {
    const [word, ...rest] = line.split(" ");
    lines[word] = rest.join(" ");
  }
  assert.notEqual(await run.status(30_000), null, "the program did not end");
  return { lines, stderr: await run.stderr() };
}

/** A folder with a secret and an open file, removed by `using`. */
function probeFolder(): { dir: string } & Disposable {
  const dir = Deno.realPathSync(Deno.makeTempDirSync());
  Deno.writeTextFileSync(`${dir}/secret.txt`, "s3cret");
  Deno.writeTextFileSync(`${dir}/open.txt`, "open");
  Deno.mkdirSync(`${dir}/tmp`);
  return {
    dir,
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

type Probe = Record<string, string>;

async function probeBoth(
  flags: string[],
  dir: string,
  permissions?: unknown,
  env: Record<string, string> = {},
): Promise<{ parent: Probe; child: Probe }> {
  const { lines, stderr } = await runProgram(
    PROGRAM,
    permissions === undefined ? [dir] : [dir, JSON.stringify(permissions)],
    flags,
    { MP_TRUST: "1", ...env },
  );
  assert.equal(lines.exit, "0", `${JSON.stringify(lines)}\n${stderr}`);
  return { parent: JSON.parse(lines.parent), child: JSON.parse(lines.child) };
}

Deno.test("trust: a child of a parent run with -A and a denial of each kind is refused the same", async () => {
  using folder = probeFolder();
  const { dir } = folder;
  const { parent, child } = await probeBoth([
    "--allow-all",
    `--deny-read=${dir}/secret.txt`,
    `--deny-write=${dir}/out.txt`,
    "--deny-env=HOME",
    "--deny-sys=hostname",
    "--deny-run=true",
    "--deny-net=127.0.0.1:9",
    `--deny-ffi=${dir}/x.so`,
    "--deny-import=example.com",
  ], dir);
  assert.deepEqual(parent, {
    readSecret: "NotCapable",
    readOpen: "ok",
    writeOut: "NotCapable",
    writeOther: "ok",
    envHome: "NotCapable",
    envOwn: "ok",
    sysHostname: "NotCapable",
    sysLoadavg: "ok",
    runTrue: "NotCapable",
    netDenied: "denied",
    netOther: "granted",
    ffi: "denied",
    import: "denied",
  });
  assert.deepEqual(child, parent);
});

Deno.test("trust: a child of a parent granted kind by kind, with denials, is refused the same", async () => {
  using folder = probeFolder();
  const { dir } = folder;
  const { parent, child } = await probeBoth([
    "--allow-read",
    "--allow-write",
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    "--allow-run",
    `--deny-read=${dir}/secret.txt`,
    "--deny-env=HOME",
    "--deny-sys=hostname",
    "--deny-run=true",
  ], dir);
  assert.equal(parent.readSecret, "NotCapable");
  assert.equal(parent.runTrue, "NotCapable");
  assert.equal(parent.ffi, "prompt");
  assert.deepEqual(child, parent);
});

Deno.test("trust: partial grants pass on as the same lists", async () => {
  using folder = probeFolder();
  const { dir } = folder;
  const { parent, child } = await probeBoth(
    [
      `--allow-read=${dir}/open.txt,${dir}/tmp`,
      `--allow-write=${dir}/tmp,${dir}/out.txt`,
      "--allow-net",
      "--allow-run",
      "--allow-env=MP_TRUST",
    ],
    dir,
    undefined,
    // The socket folder in the granted folder.
    { TMPDIR: `${dir}/tmp` },
  );
  assert.equal(parent.readOpen, "ok");
  assert.equal(parent.readSecret, "NotCapable");
  assert.equal(parent.writeOut, "ok");
  assert.equal(parent.writeOther, "NotCapable");
  assert.equal(parent.envOwn, "ok");
  assert.equal(parent.envHome, "NotCapable");
  assert.deepEqual(child, parent);
});

Deno.test("trust: permissions { read: true } keeps the parent's read denials", async () => {
  using folder = probeFolder();
  const { dir } = folder;
  const { child } = await probeBoth(
    [
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-run",
      "--allow-env",
      `--deny-read=${dir}/secret.txt`,
      "--deny-env=HOME",
    ],
    dir,
    { read: true, env: true },
  );
  assert.equal(child.readOpen, "ok");
  assert.equal(child.readSecret, "NotCapable");
  assert.equal(child.envOwn, "ok");
  assert.equal(child.envHome, "NotCapable");
  assert.equal(child.runTrue, "NotCapable");
  assert.equal(child.writeOther, "NotCapable");
});

Deno.test("trust: a parent that cannot learn its denials refuses to guess, and names the option", async () => {
  using folder = probeFolder();
  const { dir } = folder;
  // A permission set of the configuration (-P): the command line does not
  // say what it denies.
  Deno.writeTextFileSync(
    `${dir}/deno.json`,
    JSON.stringify({
      permissions: {
        default: { read: true, write: true, net: true, env: true, run: true },
      },
    }),
  );
  const flags = [`--config=${dir}/deno.json`, "-P"];
  const { lines } = await runProgram(PROGRAM, [dir], flags);
  assert.match(lines.refused, /^NotCapable: Cannot give a child "inherit" of/);
  assert.match(lines.refused, /permissions: \{ \w+: \[\.\.\.\] \}/);
  assert.equal(lines.child, undefined);
  // Named item by item, it starts, with what it was given only.
  const { child } = await probeBoth(flags, dir, {
    read: [`${dir}/open.txt`],
    env: ["MP_TRUST"],
  });
  assert.equal(child.readOpen, "ok");
  assert.equal(child.readSecret, "NotCapable");
  assert.equal(child.envOwn, "ok");
  assert.equal(child.envHome, "NotCapable");
});

/** A project folder whose deno.json maps the library to a bare name. */
function project(): { dir: string } & Disposable {
  const dir = Deno.realPathSync(Deno.makeTempDirSync());
  Deno.writeTextFileSync(
    `${dir}/deno.json`,
    JSON.stringify({ imports: { "@mp/multiprocessing": MOD } }),
  );
  Deno.writeTextFileSync(`${dir}/.env`, "MP_FROM_ENV_FILE=yes\n");
  Deno.writeTextFileSync(
    `${dir}/main.ts`,
    `import { type Backend, Process } from "@mp/multiprocessing";

export function hello(): void {
  let flags: string[] = [];
  let env: string | null = null;
  try {
    const cmdline = Deno.readTextFileSync("/proc/self/cmdline");
    flags = cmdline.split("\\0").filter((arg) => arg.startsWith("--"));
  } catch {
    // Not permitted.
  }
  try {
    env = Deno.env.get("MP_FROM_ENV_FILE") ?? null;
  } catch {
    // Not permitted.
  }
  const kv = typeof (Deno as { openKv?: unknown }).openKv;
  console.log("child " + JSON.stringify({ kv, env, flags }));
}

if (import.meta.main) {
  const [backend, permissions] = Deno.args;
  const p = new Process({
    target: hello,
    backend: backend as Backend,
    ...(permissions ? { permissions: JSON.parse(permissions) } : {}),
  });
  p.start();
  console.log("exit " + await p.join());
}
`,
  );
  return {
    dir,
    [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }),
  };
}

for (const backend of BACKENDS) {
  Deno.test(`trust: ${backend}: a program importing the library by a bare name from its deno.json runs children with its setup`, async () => {
    using folder = project();
    const { dir } = folder;
    const { lines, stderr } = await runProgram(
      new URL(`file://${dir}/main.ts`),
      [backend],
      [
        "--allow-all",
        "--unstable-kv",
        "--cached-only",
        `--env-file=${dir}/.env`,
      ],
    );
    assert.equal(lines.exit, "0", `${JSON.stringify(lines)}\n${stderr}`);
    const child = JSON.parse(lines.child);
    assert.equal(child.kv, "function");
    assert.equal(child.env, "yes");
    if (backend === "subprocess") {
      for (
        const flag of [
          `--config=${dir}/deno.json`,
          "--unstable-kv",
          "--cached-only",
          `--env-file=${dir}/.env`,
        ]
      ) {
        assert.ok(child.flags.includes(flag), `${flag} in ${child.flags}`);
      }
    }
  });
}

Deno.test("trust: subprocess: a parent that may run only deno still learns its setup", async () => {
  using folder = project();
  const { dir } = folder;
  const { lines, stderr } = await runProgram(
    new URL(`file://${dir}/main.ts`),
    ["subprocess", JSON.stringify({ env: ["MP_FROM_ENV_FILE"] })],
    [
      "--allow-read",
      "--allow-write",
      "--allow-net",
      `--allow-run=${Deno.execPath()}`,
      "--allow-env",
      "--unstable-kv",
      `--env-file=${dir}/.env`,
    ],
  );
  assert.equal(lines.exit, "0", `${JSON.stringify(lines)}\n${stderr}`);
  const child = JSON.parse(lines.child);
  assert.equal(child.kv, "function");
  assert.equal(child.env, "yes");
  assert.deepEqual(child.flags, []);
});

for (const backend of BACKENDS) {
  Deno.test(`trust: ${backend}: a child has its parent's authkey`, async () => {
    const key = currentProcess().authkey;
    assert.equal(key.length, 32);
    assert.deepEqual(currentProcess().authkey, key);
    // A copy: changing it changes nothing.
    key[0] ^= 1;
    assert.notDeepEqual(currentProcess().authkey, key);
    key[0] ^= 1;
    const out = new Queue<Uint8Array>();
    const p = startChild(TARGETS, backend, "sendAuthkey", [out]);
    try {
      assert.deepEqual(new Uint8Array(await out.get()), key);
    } finally {
      await p.join();
    }
    assert.equal(p.exitCode, 0, p.error?.stack);
    assert.deepEqual(p.authkey, key);
  });
}

// An intruder of the same user: connects and speaks the frame protocol at
// once (a call of object 1's getSync, a hello with a guessed token), then
// prints all it received until the socket closed.
const INTRUDER = `
const conn = await Deno.connect({ transport: "unix", path: Deno.args[0] });
const body = new TextEncoder().encode(Deno.args[1]);
const frame = new Uint8Array(9 + body.length);
new DataView(frame.buffer).setUint32(0, body.length);
new DataView(frame.buffer).setUint32(5, 1);
frame.set(body, 9);
await conn.write(frame);
const got = [];
const buffer = new Uint8Array(65536);
const guard = setTimeout(() => conn.close(), 20000);
for (;;) {
  let n = null;
  try { n = await conn.read(buffer); } catch { break; }
  if (n === null) break;
  got.push(...buffer.subarray(0, n));
}
clearTimeout(guard);
console.log(JSON.stringify(String.fromCharCode(...got)));
`;

async function intrude(path: string, message: unknown): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", INTRUDER, path, JSON.stringify(message)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("trust: subprocess: a connection without the authkey learns nothing, changes nothing, and the parent goes on", async () => {
  const queue = new Queue<string>();
  await queue.put("first");
  await queue.put("second");
  const value = new Value("i", 41);
  const started = new Event();
  const go = new Event();
  // A child without FFI: its primitives stay behind its agent's socket
  // (with FFI they would be in shared memory, with no agent to intrude on).
  const p = startChild(TARGETS, "subprocess", "workWhenLetGo", [
    queue,
    value,
    started,
    go,
  ], { permissions: { read: true, env: true, sys: true } });
  try {
    await started.wait();
    // The library's own name for it: a folder left by a dead process that had
    // this pid before (pids are reused) is not it.
    const dir = socketDir();
    assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
    const sockets = [...Deno.readDirSync(dir)].map((entry) => entry.name)
      .filter((name) => name.endsWith(".sock"));
    assert.ok(sockets.includes("control.sock"), String(sockets));
    assert.ok(sockets.some((name) => name.startsWith("agent-")));
    for (const name of sockets) {
      const message = name === "control.sock"
        ? { t: "hello", token: "1" }
        : { o: 1, op: "call", n: "getSync", a: [], m: "wait" };
      const got = await intrude(`${dir}/${name}`, message);
      // A challenge (4-byte length, #CHALLENGE#, random bytes), a failure,
      // and the end: no frame, no item.
      assert.match(got, /^[^]{4}#CHALLENGE#\{sha256\}[^]{40}[^]{4}#FAILURE#$/);
      // A process that speaks the handshake with another key fails too.
      const conn = await Deno.connect({
        transport: "unix",
        path: `${dir}/${name}`,
      });
      try {
        await assert.rejects(
          clientHandshake(connChannel(conn), newAuthkey()),
          AuthenticationError,
        );
      } finally {
        conn.close();
      }
    }
    assert.equal(value.value, 41);
    assert.equal(queue.qsize(), 2);
  } finally {
    go.set();
    await p.join();
  }
  assert.equal(p.exitCode, 0, p.error?.stack);
  assert.equal(value.value, 42);
  assert.deepEqual(
    [await queue.get(), await queue.get(), await queue.get()],
    ["first", "second", "from the child"],
  );
});

Deno.test("trust: subprocess: a child's command line and environment hold no argument, key or socket path", async () => {
  const secret = `secret-${crypto.randomUUID()}`;
  const started = new Event();
  const release = new Event();
  const p = startChild(TARGETS, "subprocess", "holdSecret", [
    secret,
    started,
    release,
  ]);
  try {
    await started.wait();
    const cmdline = Deno.readTextFileSync(`/proc/${p.pid}/cmdline`);
    const environ = Deno.readTextFileSync(`/proc/${p.pid}/environ`);
    const key = Array.from(
      currentProcess().authkey,
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    for (const [what, text] of [["cmdline", cmdline], ["environ", environ]]) {
      assert.ok(!text.includes(secret), `the argument is in ${what}`);
      assert.ok(!text.includes(key), `the authkey is in ${what}`);
      assert.ok(!text.includes(".sock"), `a socket path is in ${what}`);
      assert.ok(
        !text.includes(`deno-multiprocessing-${Deno.pid}-`),
        `the socket folder is in ${what}: ${text}`,
      );
    }
    // The start module that held them is gone.
    const startModule = decodeURIComponent(cmdline).match(
      /file:\/\/(\/[^"]*deno-multiprocessing-start-[0-9a-f]+\.js)/,
    );
    assert.ok(startModule, cmdline);
    assert.throws(() => Deno.statSync(startModule[1]), Deno.errors.NotFound);
  } finally {
    release.set();
    await p.join();
  }
  assert.equal(p.exitCode, 0, p.error?.stack);
});

Deno.test("trust: a start module left behind (parent and child killed as it started) goes with the next sweep", async () => {
  using folder = probeFolder();
  const tmp = `${folder.dir}/tmp`;
  const old = `${tmp}/deno-multiprocessing-start-${"0".repeat(32)}.js`;
  const fresh = `${tmp}/deno-multiprocessing-start-${"1".repeat(32)}.js`;
  for (const path of [old, fresh]) Deno.writeTextFileSync(path, "");
  const longAgo = new Date(Date.now() - 5 * 60_000);
  Deno.utimeSync(old, longAgo, longAgo);
  const { lines, stderr } = await runProgram(
    new URL("./testdata/tempdir_program.ts", import.meta.url),
    ["return"],
    ["--allow-all"],
    { TMPDIR: tmp },
  );
  assert.equal(lines.ready, "", stderr);
  assert.throws(() => Deno.statSync(old), Deno.errors.NotFound);
  assert.ok(Deno.statSync(fresh).isFile);
});
