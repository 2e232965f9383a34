// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children as OS processes: `deno run` of `Deno.execPath()`.
//
// Start-up is what a fresh `deno run` costs, and little more: the child's
// main module statically imports a start module that this process writes
// for it in the temporary directory, which imports our entry and the
// target's module (static imports need no read permission, and the entry
// starts connecting to its parent while the target's module loads). The
// start module holds what the child must be told: the authkey, the socket
// path and the token that names it there, its identity, target, and
// arguments when JSON carries them (else they come over the socket). It is
// readable by this user only (made new, mode 0600, under a random name), and
// the child removes it as it starts: nothing secret is on its command line,
// which every local user can read, nor in its environment. (A pipe to the
// child's stdin would do too, but this process's event loop would have to
// run to fill it: a program that starts a child and then blocks,
// `p.start(); queue.getSync()`, would wait forever.) This module stays
// light: `node:v8` is loaded only when a value needs it, since every Worker
// child imports this file.
//
// The child runs with its parent's setup (configuration file, lock file,
// import map, `--unstable-*`...) and never more permission than its parent
// holds, denials included: see setup.ts and permissions.ts.
//
// Each parent has one control socket (a Unix socket in a temporary
// directory, see socket_dir.ts) to which its children connect: a child
// reports an uncaught error there before it exits, and sees the socket end
// when its parent does, next time it is idle. Primitives passed to a
// child stay in the parent, held by an agent Worker per child (see
// proxy/session.ts and proxy/agent.ts) that performs the child's calls on
// them; only children given primitives get an agent. Every connection to
// either socket begins with the challenge-response of _net/handshake.ts
// under the authkey of the process tree, before a frame is read.
//
// A child ends with its parent, however busy it is, even while its module
// still loads: `setpriv --pdeathsig KILL` (util-linux) asks the kernel to
// kill it when its parent dies (PR_SET_PDEATHSIG), then runs Deno in its
// place. Where setpriv cannot run, the child watches its parent from a
// thread of its own, which costs its start-up a few tens of ms (see
// main.ts).
import {
  type ChildEnd,
  type ChildHandle,
  type Launcher,
  type LaunchOptions,
  type LaunchSpec,
  registerLauncher,
} from "../launcher.ts";
import type { ErrorData } from "../../_error.ts";
import { PROXY_MODULE } from "./proxy/protocol.ts";
import { Session, sessionAt } from "./proxy/session.ts";
import { controlSocket, socketDir, startModulePath } from "./socket_dir.ts";
import { type Identity, markAlive, markEnded } from "../../_shm/registry.ts";
import { FrameWriter, loadV8, readFrames } from "./channel.ts";
import { jsonExact } from "../../_json.ts";
import { grantItems, grantsOf, permissionFlags } from "./permissions.ts";
import { parentSetup } from "./setup.ts";
import {
  connChannel,
  ownAuthkey,
  serverHandshake,
} from "../../_net/handshake.ts";
import type { TargetSpec } from "../../_target.ts";
import type { Exporter } from "../../_wire.ts";
import { exitCodeOf } from "../../_deno_compat.ts";
import {
  mayUseFfi,
  sharedMemoryExporter,
  withoutSharedMemory,
} from "./shm_export.ts";

const ENTRY = new URL("./main.ts", import.meta.url).href;
/**
 * Arguments longer than this (as JSON) go over the socket rather than in the
 * child's start module.
 */
const ARGV_LIMIT = 64 * 1024;

/** What a child is told at start (see {@linkcode startModuleOf}). */
export interface StartInfo {
  /** The parent's control socket. */
  sock: string;
  /** Names the child to its parent on the socket (random). */
  token: string;
  /** The process tree's authkey, in hex. */
  authkey: string;
  /** The start module, which the child removes. */
  file: string;
  identity: Omit<Identity, "pid">;
  target: TargetSpec;
  /** The arguments, when JSON carries them; else they come on the socket. */
  args?: unknown[];
  /** Whether to wait for the arguments in a "start" message. */
  wait: boolean;
  /** The parent's OS pid: a child whose parent is another has lost it. */
  ppid: number;
  /** Whether the child must watch for its parent's death itself. */
  watchParent: boolean;
}

/** The messages on a control socket. */
export type ControlMessage =
  | { t: "hello"; token: string }
  | { t: "start"; args?: unknown[] }
  | { t: "end"; error: ErrorData }
  | { t: "ack" };

/** This process's control socket, made on first use. */
class Home {
  readonly dir: string;
  readonly path: string;
  #expected = new Map<string, SubprocessChild>();

  constructor() {
    this.dir = socketDir();
    this.path = controlSocket((conn) => this.#greet(conn));
  }

  expect(token: string, child: SubprocessChild): void {
    this.#expected.set(token, child);
  }

  forget(token: string): void {
    this.#expected.delete(token);
  }

  async #greet(conn: Deno.Conn): Promise<void> {
    conn.unref();
    try {
      await serverHandshake(connChannel(conn), ownAuthkey());
    } catch {
      // Not one of ours: it learns nothing and is heard no further.
      conn.close();
      return;
    }
    const frames = readFrames(conn);
    const first = await frames.next();
    const hello = first.value?.value as ControlMessage | undefined;
    const child = hello?.t === "hello"
      ? this.#expected.get(hello.token)
      : undefined;
    if (!child) {
      conn.close();
      return;
    }
    child.attach(conn, frames);
  }
}

let home: Home | undefined;

function homeOf(): Home {
  return home ??= new Home();
}

/**
 * Exports the primitives of one child's arguments to the agent made for
 * that child, on the first one.
 */
function argumentExporter(): Exporter {
  let session: Session | undefined;
  return (value) => (session ??= new Session()).export(value);
}

/** The agent sockets of the proxies in `value` (at any depth). */
function proxyPaths(value: unknown, found: Set<string>, depth = 0): void {
  if (typeof value !== "object" || value === null || depth > 64) return;
  const record = value as Record<string, unknown>;
  if (record.module === PROXY_MODULE) {
    found.add((record.state as { path: string }).path);
    return;
  }
  const items = value instanceof Map
    ? [...value.keys(), ...value.values()]
    : value instanceof Set
    ? [...value]
    : Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype
    ? Object.values(value)
    : [];
  for (const item of items) proxyPaths(item, found, depth + 1);
}

/** Names the first argument that cannot cross into another OS process. */
function checkArgs(args: unknown[]): void {
  // Throws the structured clone's DataCloneError, which Process turns into
  // a TypeError naming the argument.
  structuredClone(args);
  for (let i = 0; i < args.length; i++) {
    const what = unshareable(args[i], 0);
    if (what) {
      throw new TypeError(
        `Process argument ${i} (args[${i}]) cannot be passed to a subprocess: it holds a ${what}, which cannot leave its OS process; use the worker backend, or a Value, Array, Queue or Pipe of this library`,
      );
    }
  }
}

function unshareable(value: unknown, depth: number): string | undefined {
  if (typeof value !== "object" || value === null || depth > 64) {
    return undefined;
  }
  if (value instanceof SharedArrayBuffer) return "SharedArrayBuffer";
  if (ArrayBuffer.isView(value)) {
    return value.buffer instanceof SharedArrayBuffer
      ? "view of a SharedArrayBuffer"
      : undefined;
  }
  if (value instanceof MessagePort) return "MessagePort";
  const items = value instanceof Map
    ? [...value.keys(), ...value.values()]
    : value instanceof Set
    ? [...value]
    : Object.values(value);
  for (const item of items) {
    const what = unshareable(item, depth + 1);
    if (what) return what;
  }
  return undefined;
}

/**
 * The source of a child's start module. Its first import (evaluated first)
 * hands the start information to the entry through a global, so that the
 * child's `Deno.args` can be its parent's, as a Worker child's are: a
 * module that reads `Deno.args` at its top level reads the same in the
 * child.
 */
function startModuleOf(info: StartInfo, proxies: boolean): string {
  const bytes = new TextEncoder().encode(
    `globalThis[Symbol.for("multiprocessing.startInfo")]=${
      JSON.stringify(info)
    };`,
  );
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  const start = `data:text/javascript;base64,${btoa(binary)}`;
  const code = `import${JSON.stringify(start)};` +
    `import{main}from${JSON.stringify(ENTRY)};` +
    (proxies ? `import${JSON.stringify(PROXY_MODULE)};` : "") +
    `import*as t from${JSON.stringify(info.target.module)};main(t);`;
  return code;
}

/** A random hex string of `bytes` bytes. */
function randomHex(bytes: number): string {
  return hex(crypto.getRandomValues(new Uint8Array(bytes)));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The `setpriv` arguments that have the kernel kill a child when the thread
 * that started it ends: Deno starts a child from the thread that asks, and
 * this thread is the child's parent (a Worker child is a process of this
 * library, whose children end with it). Null when setpriv cannot be run:
 * not on Linux, not installed, no run permission for it, or too old to
 * know `--pdeathsig`; asked once per thread.
 */
let deathSignal: string[] | null | undefined;

function deathSignalArgs(): string[] | null {
  if (deathSignal !== undefined) return deathSignal;
  deathSignal = null;
  if (Deno.build.os !== "linux") return null;
  const args = ["--pdeathsig", "KILL"];
  try {
    const run = Deno.permissions.querySync({ name: "run", command: "setpriv" });
    if (run.state !== "granted") return null;
    const probe = new Deno.Command("setpriv", {
      args: [...args, "--version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).outputSync();
    if (probe.success) deathSignal = args;
  } catch {
    // Not installed.
  }
  return deathSignal;
}

class SubprocessChild implements ChildHandle {
  readonly pid: number;
  readonly ended: Promise<ChildEnd>;
  #token = randomHex(16);
  #file: string | undefined;
  #child: Deno.ChildProcess;
  #session: Session | undefined;
  #socketArgs: unknown[] | undefined;
  #error: ErrorData | undefined;
  #conn: Deno.Conn | undefined;

  constructor(spec: LaunchSpec, options: LaunchOptions) {
    // Proxies made here for this child (its session), and proxies this
    // process holds itself and passes on, which connect to another agent.
    if (!mayUseFfi(options.permissions)) {
      spec = { ...spec, args: withoutSharedMemory(spec.args) };
    }
    const paths = new Set<string>();
    proxyPaths(spec.args, paths);
    this.#session = [...paths].map(sessionAt).find(
      (session) => session !== undefined,
    );
    const h = homeOf();
    try {
      const tie = deathSignalArgs();
      const args = this.#commandLine(spec, options, paths, tie === null);
      h.expect(this.#token, this);
      this.#child = new Deno.Command(tie ? "setpriv" : Deno.execPath(), {
        args: tie ? [...tie, "--", Deno.execPath(), ...args] : args,
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (error) {
      // Nothing runs: the agent made for the arguments goes too.
      h.forget(this.#token);
      this.#removeStartModule();
      this.#session?.end();
      throw error;
    }
    this.pid = this.#child.pid;
    markAlive(this.pid);
    this.#session?.identify({ ...spec.identity, pid: this.pid });
    if (options.daemon) this.#child.unref();
    this.ended = this.#wait();
  }

  /** The `deno` arguments that start this child. */
  #commandLine(
    spec: LaunchSpec,
    options: LaunchOptions,
    paths: Set<string>,
    watchParent: boolean,
  ): string[] {
    const inArgv = jsonExact(spec.args, ARGV_LIMIT) &&
      JSON.stringify(spec.args).length <= ARGV_LIMIT;
    if (!inArgv) {
      checkArgs(spec.args);
      this.#socketArgs = spec.args;
    }
    const { pid: _, ...identity } = spec.identity;
    const h = homeOf();
    const setup = parentSetup();
    // Checked before anything is written.
    const grants = grantsOf(options.permissions, setup.permissions);
    const file = startModulePath(randomHex(16));
    const info: StartInfo = {
      sock: h.path,
      token: this.#token,
      authkey: hex(ownAuthkey()),
      file,
      identity,
      target: spec.target,
      ...(inArgv ? { args: spec.args } : {}),
      wait: !inArgv,
      ppid: Deno.pid,
      watchParent,
    };
    // The child reaches its parent's sockets whatever else it may do.
    grantItems(grants, "read", [h.dir]);
    grantItems(grants, "write", [h.dir, file]);
    grantItems(
      grants,
      "net",
      [h.path, ...paths].map((path) => `unix:${path}`),
    );
    const args = [
      "run",
      "--no-prompt",
      ...setup.flags,
      ...permissionFlags(grants, setup.permissions),
    ];
    if (options.v8Flags?.length) {
      args.push(`--v8-flags=${options.v8Flags.join(",")}`);
    }
    Deno.writeTextFileSync(file, startModuleOf(info, paths.size > 0), {
      createNew: true,
      mode: 0o600,
    });
    this.#file = file;
    const main = `import${JSON.stringify(new URL(`file://${file}`).href)};`;
    // The parent's own arguments are its command line's already.
    args.push(`data:text/javascript,${encodeURIComponent(main)}`, ...Deno.args);
    return args;
  }

  /** Removes the start module, if the child did not. */
  #removeStartModule(): void {
    if (!this.#file) return;
    try {
      Deno.removeSync(this.#file);
    } catch {
      // The child removed it.
    }
    this.#file = undefined;
  }

  async #wait(): Promise<ChildEnd> {
    const status = await this.#child.status;
    markEnded(this.pid);
    homeOf().forget(this.#token);
    this.#removeStartModule();
    try {
      this.#conn?.close();
    } catch {
      // closed by the child's end
    }
    await this.#session?.end();
    return { exitCode: exitCodeOf(status), error: this.#error };
  }

  /** The child connected: start it, then listen for its end. */
  async attach(
    conn: Deno.Conn,
    frames: AsyncGenerator<{ tag: number; value: unknown }>,
  ): Promise<void> {
    this.#conn = conn;
    this.#removeStartModule();
    const writer = new FrameWriter(conn);
    // The child cannot run without its agent or its arguments: it ends
    // with the reason. (A child whose arguments fit in argv does not wait
    // for this process's main thread, which may be blocked in a *Sync
    // call: its proxies connect to the agent, a thread of its own, when
    // that listens.)
    const failed = (error: unknown) => {
      this.#error = {
        name: (error as Error)?.name ?? "Error",
        message: (error as Error)?.message ?? String(error),
      };
      this.stop(15);
    };
    this.#session?.listening.catch(failed);
    if (this.#socketArgs) {
      try {
        await loadV8();
        await writer.send(
          { t: "start", args: this.#socketArgs } satisfies ControlMessage,
        );
      } catch (error) {
        return failed(error);
      }
    }
    for await (const { value } of frames) {
      const message = value as ControlMessage;
      if (message.t === "end") {
        this.#error = message.error;
        await writer.send({ t: "ack" } satisfies ControlMessage).catch(
          () => {},
        );
      }
    }
  }

  stop(signal: number): void {
    try {
      this.#child.kill(signal === 9 ? "SIGKILL" : "SIGTERM");
    } catch {
      // It ended already.
    }
  }
}

/** Starts children as OS processes. */
const subprocessLauncher: Launcher = {
  backend: "subprocess",
  takes: ["permissions", "v8Flags"],
  exporter: () => sharedMemoryExporter(argumentExporter()),
  // Deno.Command, and Unix sockets in a temporary directory of a random name.
  needs: () => [
    { name: "run", command: Deno.execPath() },
    { name: "read" },
    { name: "write" },
    { name: "net", host: "unix:/" },
  ],
  // The OS gives the pid at spawn; the child reads its own.
  allocatePid: () => 0,
  launch: (spec, options) => new SubprocessChild(spec, options),
};

registerLauncher(subprocessLauncher);
