// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Child processes in the style of Python's `multiprocessing.Process`.
 *
 * A child runs a function that its module exports, with arguments that are
 * structured-cloned (and every primitive of this library inside them revived
 * as a working handle). The default backend is a Deno Worker; a child ends
 * when its target returns (or its promise settles), and its parent learns of
 * that end on every path, so `join()` never hangs on a child that is gone.
 *
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 *
 * export function display(name: string) {
 *   console.log("Hi !!! " + name);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: display, args: ["Python"] });
 *   p.start();
 *   await p.join();
 * }
 * ```
 *
 * Permissions: a Worker child inherits its parent's permissions. Starting
 * one needs none beyond what loading the child's module needs (`--allow-read`
 * for a module the child imports by a path the parent never imported, and
 * `--allow-import` for remote modules).
 *
 * @module
 */
import {
  checkOptions,
  type ChildEnd,
  type ChildHandle,
  type ChildOptions,
  type Launcher,
  launcherOf,
} from "./_backend/launcher.ts";
// Each backend's launcher registers itself as it loads.
import "./_backend/worker/launcher.ts";
import "./_backend/subprocess/launcher.ts";
import {
  checkBootstrapped,
  inheritedStartMethod,
  registerProcessModule,
} from "./_backend/child.ts";
import { dataToError, quoteMessage } from "./_error.ts";
import { identity, isAlive as pidIsAlive } from "./_shm/registry.ts";
import { holdEventLoop } from "./_deno_compat.ts";
import { deadlineOf, remaining, settlesBy } from "./_timeout.ts";
import {
  callerModule,
  internalModule,
  PROCESS_SUBCLASS,
  PROCESS_TARGET,
  resolveTarget,
  type TargetSpec,
} from "./_target.ts";
import { encode, ownerEnded, wireContext } from "./_wire.ts";
import type { PermissionOptions } from "./subprocess.ts";
export type { PermissionOptions, PermissionValue } from "./subprocess.ts";
import { ProcessError } from "./errors.ts";
import { ownAuthkey } from "./_net/handshake.ts";

internalModule(import.meta.url);

/**
 * Where a child runs: `"worker"`, a Deno Worker in this process, or
 * `"subprocess"`, an OS process of its own.
 */
export type Backend = "worker" | "subprocess";

/** A target named by the module that exports it and the export's name. */
export interface TargetRef {
  /** The module's URL, for example `import.meta.url`. */
  module: string | URL;
  /** The name of the exported function. */
  export: string;
}

/** What a child runs: an exported function, or its module and export name. */
export type Target<A extends unknown[]> =
  | ((...args: A) => unknown)
  | TargetRef;

/** Options of {@linkcode Process}. */
export interface ProcessOptions<A extends unknown[] = unknown[]> {
  /** The function the child runs; it must be exported by its module. */
  target?: Target<A>;
  /** The target's arguments, structured-cloned. */
  args?: A;
  /** The process name (default `Process-N`). */
  name?: string;
  /** Whether the child ends when its parent ends (default: the parent's). */
  daemon?: boolean;
  /** `"worker"` (default) or `"subprocess"`. */
  backend?: Backend;
  /**
   * Subprocess backend only: the child's permissions. By default
   * (`"inherit"`) a child gets each kind of permission its parent holds in
   * full (`--allow-all` when it holds all); `"none"` gives none; an object
   * such as `{ read: true, net: ["example.com"] }` gives those kinds and no
   * others (as Deno's Worker `deno.permissions` does). Asking for more than
   * the parent holds throws `Deno.errors.NotCapable` at `start()`. A Worker
   * child always has its parent's permissions, so the option is rejected
   * there.
   */
  permissions?: PermissionOptions;
  /**
   * Subprocess backend only: V8 flags for the child, such as
   * `["--max-old-space-size=64"]` (a heap limit, in MB).
   */
  v8Flags?: string[];
}

/**
 * What {@linkcode Process}'s constructor asks of `args` besides
 * {@linkcode ProcessOptions}: nothing when the target takes no argument (or
 * its type is not known, as for `{ module, export }`), else its argument
 * list, so that `new Process({ target: add })` is a type error.
 */
export type ArgsOf<A extends unknown[]> = [] extends A ? unknown
  : { args: A };

// Unset until setStartMethod(): a child then starts its own children as it
// was started, as Python's inherits the start method.
let defaultBackend: Backend | undefined;

/**
 * Sets the backend that new processes use when they name none (Python's
 * `multiprocessing.set_start_method`). A child starts on the backend its
 * parent started it on, and that is its own default, as in Python.
 *
 * @param backend `"worker"` or `"subprocess"`.
 * @throws {TypeError} When `backend` is unknown.
 *
 * @example
 * ```ts
 * import { getStartMethod, setStartMethod } from "@mp/multiprocessing/process";
 *
 * setStartMethod("worker");
 * console.log(getStartMethod()); // "worker"
 * ```
 */
export function setStartMethod(backend: Backend): void {
  launcherOf(backend);
  defaultBackend = backend;
}

/**
 * The backend that new processes use when they name none.
 *
 * @returns What {@linkcode setStartMethod} set; until then, in a child, the
 * backend it was started on (Python's child inherits its start method), and
 * `"worker"` in the main program.
 *
 * @example
 * ```ts
 * import { getStartMethod } from "@mp/multiprocessing/process";
 *
 * console.log(getStartMethod()); // "worker"
 * ```
 */
export function getStartMethod(): Backend {
  return defaultBackend ?? inheritedStartMethod();
}

let processCount = 0;
const liveChildren = new Set<Process>();

/** What a process that is not a child of this one knows of itself. */
interface View {
  pid: number;
  name: string;
  daemon: boolean;
  alive: () => boolean;
  /** Whether it is this process's parent, whose end `join()` waits for. */
  parent: boolean;
}

/** How often a join of the parent looks whether it is still alive. */
const PARENT_POLL_MS = 20;

let makeView: (view: View) => Process;
let joinQuietly: (p: Process) => Promise<number | null>;

/**
 * A child process: Python's `multiprocessing.Process`.
 *
 * @typeParam A The target's parameter list.
 *
 * @example Start a child and wait for it
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 * import assert from "node:assert/strict";
 *
 * const p = new Process({
 *   target: { module: "data:text/javascript,export function noop() {}", export: "noop" },
 * });
 * p.start();
 * assert.equal(await p.join(), 0);
 * ```
 */
export class Process<A extends unknown[] = unknown[]> {
  #target: TargetSpec | undefined;
  // Typed loosely so that a Process<[number]> is still a Process.
  #targetFn: ((...args: never[]) => unknown) | undefined;
  #targetError: TypeError | undefined;
  #callerModule: string | undefined = callerModule();
  #args: readonly unknown[];
  #name: string;
  #daemon: boolean;
  #childOptions: ChildOptions;
  #launcher: Launcher;
  #handle: ChildHandle | undefined;
  #end: ChildEnd | undefined;
  #error: Error | undefined;
  #closed = false;
  #view: View | undefined;

  static {
    joinQuietly = (p) => p.#join(undefined, false);
    makeView = (view) => {
      const p = new Process({ name: view.name });
      p.#view = view;
      return p;
    };
  }

  /**
   * Describes a child; nothing runs until {@linkcode Process.start}.
   *
   * @param options The target, its arguments, and the child's settings
   * (default: none, a child that does nothing).
   * @throws {TypeError} When `backend` is unknown, or `permissions` or
   * `v8Flags` is given for a Worker child.
   *
   * @example A child on the subprocess backend
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process({
   *   target: { module: "data:text/javascript,export function noop() {}", export: "noop" },
   *   name: "worker-1",
   *   backend: "subprocess",
   * });
   * assert.equal(p.name, "worker-1");
   * assert.equal(p.backend, "subprocess");
   * ```
   */
  constructor(given?: ProcessOptions<A> & ArgsOf<A>) {
    const options: ProcessOptions<A> = given ?? {};
    const { target, args = [] as unknown as A, name, daemon, backend } =
      options;
    this.#args = args;
    this.#name = name ?? `Process-${++processCount}`;
    this.#daemon = daemon ?? identity().daemon;
    this.#launcher = launcherOf(backend ?? getStartMethod());
    const { permissions, v8Flags } = options;
    checkOptions(this.#launcher, { permissions, v8Flags });
    this.#childOptions = { permissions, v8Flags };
    if (target !== undefined) this.#target = this.#resolve(target);
  }

  /** The target's spec; an error in it is thrown by `start()`. */
  #resolve(target: Target<A>): TargetSpec | undefined {
    if (typeof target === "function") this.#targetFn = target;
    try {
      return resolveTarget(target, PROCESS_TARGET, this.#callerModule);
    } catch (error) {
      this.#targetError = error as TypeError;
      return undefined;
    }
  }

  /**
   * The backend the child runs on.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   *
   * console.log(new Process().backend); // "worker"
   * ```
   */
  get backend(): Backend {
    return this.#launcher.backend;
  }

  /**
   * The process name; a child knows itself by it (`currentProcess().name`).
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process();
   * assert.match(p.name, /^Process-\d+$/);
   * p.name = "reader";
   * assert.equal(p.name, "reader");
   * ```
   */
  get name(): string {
    return this.#name;
  }
  /**
   * Renames the process.
   *
   * @param value The new name.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   *
   * const p = new Process();
   * p.name = "reader";
   * console.log(p.name); // "reader"
   * ```
   */
  set name(value: string) {
    this.#name = String(value);
  }

  /**
   * Whether the child is ended when its parent ends; set before start.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   *
   * console.log(new Process().daemon); // false in the main program
   * ```
   */
  get daemon(): boolean {
    return this.#view?.daemon ?? this.#daemon;
  }
  /**
   * Makes the child a daemon (or not): a daemon child is ended when its
   * parent ends, and does not keep its parent running.
   *
   * @param value Whether the child is a daemon.
   * @throws {ProcessError} When the child was already started.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process();
   * p.daemon = true;
   * assert.equal(p.daemon, true);
   * ```
   */
  set daemon(value: boolean) {
    if (this.#handle) {
      throw new ProcessError(
        `Cannot set daemon of ${this.#name}: it was already started; set it before start()`,
      );
    }
    this.#daemon = Boolean(value);
  }

  /**
   * The child's pid: the OS pid for a subprocess, a unique positive number
   * for a Worker; `undefined` before start.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process();
   * assert.equal(p.pid, undefined);
   * p.start();
   * assert.ok(p.pid! > 0);
   * await p.join();
   * ```
   */
  get pid(): number | undefined {
    return this.#view?.pid ?? this.#handle?.pid;
  }

  /**
   * The process tree's authentication key (Python's `authkey`): 32 random
   * bytes made by the main process and inherited by every child on both
   * backends. Every socket of the library (a subprocess child's control
   * and proxy sockets) admits only a peer that proves it holds this key, by
   * an HMAC challenge-response. A child runs with its parent's key, so it is
   * the same for every `Process`; each read is a copy.
   *
   * @example
   * ```ts
   * import { currentProcess } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const key = currentProcess().authkey;
   * assert.equal(key.length, 32);
   * assert.deepEqual(currentProcess().authkey, key);
   * ```
   */
  get authkey(): Uint8Array {
    return ownAuthkey().slice();
  }

  /**
   * `null` while the child runs (or before start); then `0` when its target
   * returned, `n` for `exit(n)`, `1` for an uncaught error, `-15` after
   * {@linkcode Process.terminate}, `-9` after {@linkcode Process.kill}. A
   * subprocess child that any signal ended gives `-signal`, whoever sent
   * it: `-9` for `kill -9` from outside, `-5` (SIGTRAP) or `-6` (SIGABRT)
   * for V8 giving up, as when the child runs out of memory.
   *
   * @example A child that sets `Deno.exitCode`
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process({
   *   target: { module: "data:text/javascript,export function f() { Deno.exitCode = 3 }", export: "f" },
   * });
   * assert.equal(p.exitCode, null);
   * p.start();
   * await p.join();
   * assert.equal(p.exitCode, 3);
   * ```
   */
  get exitCode(): number | null {
    return this.#end?.exitCode ?? null;
  }

  /**
   * The child's uncaught error, rebuilt here with its class name, message,
   * the child's stack and `cause`; `undefined` otherwise.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process({
   *   target: { module: "data:text/javascript,export function f() { throw new RangeError('Too far') }", export: "f" },
   * });
   * p.start(); // the child prints its error on stderr, as Python's does
   * assert.equal(await p.join(), 1);
   * assert.ok(p.error instanceof RangeError);
   * assert.equal(p.error.message, "Too far");
   * ```
   */
  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * The code a child runs. The default calls the target with the arguments.
   *
   * Override it in a subclass (exported by its module) to run code of your
   * own, as in Python: the child makes an instance of the subclass with the
   * parent's instance's own enumerable fields (passed like `args`) and calls
   * its `run()`.
   *
   * @returns What the target returns.
   *
   * @example A subclass
   * ```ts ignore
   * import { Process } from "@mp/multiprocessing/process";
   *
   * export class Greeter extends Process {
   *   constructor(public greeting: string) {
   *     super();
   *   }
   *   override run() {
   *     console.log(this.greeting);
   *   }
   * }
   *
   * if (import.meta.main) {
   *   const p = new Greeter("hello from a child");
   *   p.start();
   *   await p.join();
   * }
   * ```
   */
  run(): unknown {
    return (this.#targetFn as ((...args: unknown[]) => unknown) | undefined)?.(
      ...this.#args,
    );
  }

  /**
   * Starts the child. A process can be started once.
   *
   * @throws {ProcessError} When it was started before or closed, or when
   * this process is a child still importing its target's module (whose
   * main code is then not guarded by `if (import.meta.main)`).
   * @throws {TypeError} When the target cannot be found by a child, or an
   * argument cannot be passed (the message names its position).
   * @throws {Deno.errors.NotCapable} When this process lacks a permission
   * that starting a child on its backend needs (the message lists every
   * flag that is missing).
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process({
   *   target: { module: "data:text/javascript,export function f(x) { Deno.exitCode = x }", export: "f" },
   *   args: [4],
   * });
   * p.start();
   * assert.throws(() => p.start(), /already started/);
   * assert.equal(await p.join(), 4);
   * ```
   */
  start(): void {
    this.#checkOpen("start");
    if (this.#view) {
      throw new ProcessError(
        `Cannot start ${this.#name}: it describes a process that this one did not start; make a new Process to start a child`,
      );
    }
    if (this.#handle) {
      throw new ProcessError(
        `${this.#name} was already started: a process can be started only once; make a new Process to run again`,
      );
    }
    checkBootstrapped("a Process", this.start);
    checkPermissions(this.#launcher, this.#name, this.start);
    const { target, args: plainArgs } = this.#childTarget();
    const ctx = wireContext(this.#launcher.backend);
    const pid = this.#launcher.allocatePid();
    ctx.receiver = pid;
    const args = encode(plainArgs, ctx) as unknown[];
    const parent = identity();
    const spec = {
      identity: {
        pid,
        name: this.#name,
        daemon: this.#daemon,
        parentPid: parent.pid,
        parentName: parent.name,
      },
      target,
      args,
      transfer: ctx.transfer,
    };
    let handle: ChildHandle;
    try {
      handle = this.#launcher.launch(spec, {
        daemon: this.#daemon,
        ...this.#childOptions,
      });
    } catch (error) {
      throw argumentError(args, error);
    }
    this.#handle = handle;
    liveChildren.add(this as unknown as Process);
    handle.ended.then((end) => {
      for (const shared of ctx.handles) shared[ownerEnded]?.(handle.pid);
      this.#end = end;
      if (end.error) this.#error = dataToError(end.error);
      liveChildren.delete(this as unknown as Process);
    });
  }

  /** What the child runs: the target, or this subclass's `run()`. */
  #childTarget(): { target: TargetSpec; args: unknown[] } {
    if (this.run !== Process.prototype.run) {
      const spec = resolveTarget(
        this.constructor,
        PROCESS_SUBCLASS,
        this.#callerModule,
      );
      return {
        target: { ...spec, kind: "subclass" },
        args: [{ ...this }],
      };
    }
    if (this.#targetError) throw this.#targetError;
    return {
      target: this.#target ?? NO_TARGET,
      args: [...this.#args],
    };
  }

  /**
   * Waits for the child to end. While it waits, this process keeps
   * running, even for a daemon child (which alone would not keep it
   * running), as Python's `join()` blocks.
   *
   * On {@linkcode parentProcess}'s result it waits for the parent to end,
   * as Python's does, and resolves with `null` (the parent's exit code is
   * its own parent's to know): ask `isAlive()` which way it went. A child
   * ends with its parent, though (see `README.md`), so such a join resolves
   * only on its timeout, or as this process ends too.
   *
   * @param timeout Milliseconds to wait at most; `undefined` waits forever.
   * @returns The exit code, or `null` when the timeout passed first.
   * @throws {ProcessError} When the process was never started, is closed, or
   * is this process (`currentProcess()`).
   * @throws {RangeError} When `timeout` is negative or not a number.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process({
   *   target: { module: "data:text/javascript,export function f() { return new Promise(() => {}) }", export: "f" },
   * });
   * p.start();
   * assert.equal(await p.join(10), null); // still running after 10 ms
   * p.terminate();
   * assert.equal(await p.join(), -15);
   * ```
   */
  join(timeout?: number): Promise<number | null> {
    return this.#join(timeout, true);
  }

  /** `join()`; `hold` keeps this process running until the child ends. */
  async #join(
    timeout: number | undefined,
    hold: boolean,
  ): Promise<number | null> {
    const deadline = deadlineOf(timeout);
    this.#checkOpen("join");
    if (this.#view?.parent) {
      await untilEnded(this.#view.alive, deadline);
      return null;
    }
    if (this.#view) {
      throw new ProcessError(
        `Cannot join ${this.#name}: it is this process; only its parent can join it (to wait for another process, wait for an Event it sets)`,
      );
    }
    const handle = this.#handle;
    if (!handle) {
      throw new ProcessError(
        `Cannot join ${this.#name}: it was never started; call start() first`,
      );
    }
    if (this.#end) return this.#end.exitCode;
    using _ = hold ? holdEventLoop() : undefined;
    await settlesBy(handle.ended, deadline);
    // `ended`'s own reaction (set in start) ran before ours.
    return this.exitCode;
  }

  /**
   * Whether the child has started and not yet ended.
   *
   * @returns `true` while the child runs.
   * @throws {ProcessError} When the process is closed (Python's
   * `ValueError`).
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process();
   * assert.equal(p.isAlive(), false);
   * p.start();
   * await p.join();
   * assert.equal(p.isAlive(), false);
   * ```
   */
  isAlive(): boolean {
    this.#checkOpen("isAlive");
    if (this.#view) return this.#view.alive();
    return this.#handle !== undefined && this.#end === undefined;
  }

  /**
   * Ends the child as SIGTERM would; its exit code becomes `-15`. Does
   * nothing to a child that already ended.
   *
   * @throws {ProcessError} When the process was never started, is closed,
   * or is not a child of this process.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process({
   *   target: { module: "data:text/javascript,export function f() { return new Promise(() => {}) }", export: "f" },
   * });
   * p.start();
   * p.terminate();
   * assert.equal(await p.join(), -15);
   * ```
   */
  terminate(): void {
    this.#signal(15, "terminate");
  }

  /**
   * Ends the child as SIGKILL would; its exit code becomes `-9`.
   *
   * @throws {ProcessError} When the process was never started, is closed,
   * or is not a child of this process.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process({
   *   target: { module: "data:text/javascript,export function f() { return new Promise(() => {}) }", export: "f" },
   * });
   * p.start();
   * p.kill();
   * assert.equal(await p.join(), -9);
   * ```
   */
  kill(): void {
    this.#signal(9, "kill");
  }

  #signal(signal: number, action: string): void {
    this.#checkOpen(action);
    if (this.#view) {
      throw new ProcessError(
        `Cannot ${action} ${this.#name}: it is not a child of this process; only its parent can end it`,
      );
    }
    if (!this.#handle) {
      throw new ProcessError(
        `Cannot ${action} ${this.#name}: it was never started, so there is nothing to end; call start() first`,
      );
    }
    if (!this.#end) this.#handle.stop(signal);
  }

  /**
   * Releases the process object. Its properties stay readable; starting,
   * joining, signalling it or asking `isAlive()` afterwards throws, as in
   * Python.
   *
   * @throws {ProcessError} When the child is still running.
   *
   * @example
   * ```ts
   * import { Process } from "@mp/multiprocessing/process";
   * import assert from "node:assert/strict";
   *
   * const p = new Process();
   * p.start();
   * await p.join();
   * p.close();
   * assert.equal(p.exitCode, 0);
   * assert.throws(() => p.start(), /closed/);
   * ```
   */
  close(): void {
    if (this.#handle && !this.#end) {
      throw new ProcessError(
        `Cannot close ${this.#name}: it is still running; join() or terminate() it first`,
      );
    }
    this.#closed = true;
  }

  #checkOpen(action: string): void {
    if (!this.#closed) return;
    const advice = action === "start"
      ? "make a new Process to run again"
      : action === "join" || action === "isAlive"
      ? "its exitCode stays readable"
      : "its child has ended, or was never started";
    const what = action === "isAlive"
      ? `tell whether ${this.#name} is alive`
      : `${action} ${this.#name}`;
    throw new ProcessError(`Cannot ${what}: it is closed; ${advice}`);
  }
}

const NO_TARGET: TargetSpec = {
  module: "data:text/javascript,export function noop() {}",
  name: "noop",
};

const UNCLONEABLE = "__multiprocessing_handle__";

/** Names the first argument the structured clone cannot copy. */
function argumentError(args: unknown[], error: unknown): unknown {
  if (!(error instanceof DOMException) || error.name !== "DataCloneError") {
    return error;
  }
  for (let i = 0; i < args.length; i++) {
    try {
      structuredClone(withoutHandles(args[i]));
    } catch (cause) {
      return new TypeError(
        `Process argument ${i} (args[${i}]) cannot be passed to a child: ${
          quoteMessage(cause)
        }; pass data the structured clone copies, or a primitive of this library`,
        { cause },
      );
    }
  }
  return new TypeError(
    `The arguments cannot be passed to a child: ${
      quoteMessage(error)
    }; pass data the structured clone copies, or primitives of this library`,
    { cause: error },
  );
}

/** A copy without the handles' wire forms (they clone with their transfers). */
function withoutHandles(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (UNCLONEABLE in value) return null;
  if (Array.isArray(value)) return value.map(withoutHandles);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, withoutHandles(v)]),
  );
}

let current: Process | undefined;

/**
 * Checks that this process holds what starting a child on `launcher`'s
 * backend needs, so that a missing permission is reported once, with every
 * flag to add, rather than one flag at a time from deep inside the start.
 * It never stops a start that would work: a need named by its kind only
 * (see {@linkcode Launcher.needs}) may be met by a partial grant, so it is
 * listed only beside a need that is surely unmet.
 */
function checkPermissions(
  launcher: Launcher,
  name: string,
  entry: () => void,
): void {
  const missing = new Set<string>();
  let surely = false;
  for (const descriptor of launcher.needs()) {
    // Before the query, which may add fields to the descriptor.
    const named = Object.keys(descriptor).length > 1;
    let held = true;
    try {
      held = Deno.permissions.querySync(descriptor).state === "granted";
    } catch {
      // A kind this Deno does not know: leave it to the start.
    }
    if (held) continue;
    missing.add(`--allow-${descriptor.name}`);
    if (named) surely = true;
  }
  if (!surely) return;
  const flags = [...missing];
  const list = flags.length === 1
    ? flags[0]
    : `${flags.slice(0, -1).join(", ")} and ${flags.at(-1)}`;
  const error = new Deno.errors.NotCapable(
    `Cannot start ${name} on the ${launcher.backend} backend without ${list}: run the program again with ${
      flags.length === 1 ? "that flag" : "these flags"
    }`,
  );
  // The stack starts at the user's call, not inside the library.
  Error.captureStackTrace(error, entry);
  throw error;
}

registerProcessModule({ activeChildren, Process, joinQuietly });

/**
 * The process this code runs in (`MainProcess` in the main program).
 *
 * @returns A `Process` describing this process; it cannot be started or
 * joined.
 *
 * @example
 * ```ts
 * import { currentProcess } from "@mp/multiprocessing/process";
 *
 * console.log(currentProcess().name); // "MainProcess"
 * ```
 */
export function currentProcess(): Process {
  const self = identity();
  if (current?.pid !== self.pid) {
    current = makeView({
      pid: self.pid,
      name: self.name,
      daemon: self.daemon,
      alive: () => true,
      parent: false,
    });
  }
  return current;
}

/**
 * The process that started this one, or `null` in the main program.
 *
 * @returns A `Process` describing the parent, or `null`.
 *
 * @example
 * ```ts
 * import { parentProcess } from "@mp/multiprocessing/process";
 *
 * console.log(parentProcess()); // null in the main program
 * ```
 */
export function parentProcess(): Process | null {
  const self = identity();
  if (self.parentPid === null) return null;
  const pid = self.parentPid;
  return makeView({
    pid,
    name: self.parentName ?? "",
    daemon: false,
    alive: () => pidIsAlive(pid),
    parent: true,
  });
}

/**
 * The children of this process that were started and have not ended.
 *
 * @returns The live children, in start order.
 *
 * @example
 * ```ts
 * import { activeChildren } from "@mp/multiprocessing/process";
 *
 * console.log(activeChildren().length); // 0
 * ```
 */
export function activeChildren(): Process[] {
  return [...liveChildren];
}

/**
 * The number of logical CPUs.
 *
 * @returns `navigator.hardwareConcurrency`.
 *
 * @example
 * ```ts
 * import { cpuCount } from "@mp/multiprocessing/process";
 *
 * console.log(cpuCount() >= 1); // true
 * ```
 */
export function cpuCount(): number {
  return navigator.hardwareConcurrency || 1;
}

/**
 * Ends this process (Python's `sys.exit`). In a child, the parent's
 * `exitCode` becomes the exit code, as with `Deno.exit(n)`. As Python's,
 * it takes more than a number: `undefined` or `null` exit with 0, `true`
 * with 1 and `false` with 0, and anything else (a message) is printed on
 * stderr and exits with 1.
 *
 * @param code The exit code, or what Python's `sys.exit` takes (default 0).
 * @returns Never.
 *
 * @example
 * ```ts ignore
 * import { exit } from "@mp/multiprocessing/process";
 *
 * export function work(ok: boolean) {
 *   if (!ok) exit("No input given"); // printed; the parent sees exitCode 1
 *   exit(3); // the parent sees exitCode 3
 * }
 * ```
 */
export function exit(code?: number | boolean | string | null): never {
  return Deno.exit(exitStatus(code));
}

/** Resolves once `alive()` is false or `deadline` has passed. */
async function untilEnded(
  alive: () => boolean,
  deadline: number,
): Promise<void> {
  while (alive() && remaining(deadline) > 0) {
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(PARENT_POLL_MS, remaining(deadline)))
    );
  }
}

/** The exit status Python's `sys.exit` gives for `code`. */
function exitStatus(code: unknown): number {
  if (code === undefined || code === null) return 0;
  if (typeof code === "boolean") return Number(code);
  if (typeof code === "number" && Number.isInteger(code)) return code;
  console.error(String(code));
  return 1;
}
