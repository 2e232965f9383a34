// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Shared by the tests: which backends to run every cross-process test on.
import type { Backend } from "./process.ts";
import { Process, type ProcessOptions } from "./process.ts";
import { usesSegments } from "./_shm/memory.ts";

/**
 * The backends that each cross-process test runs on. A test file loops over
 * these so that the same assertions hold on every backend.
 */
export const BACKENDS: readonly Backend[] = ["worker", "subprocess"];

/**
 * How primitives reach subprocess children in this run: `"ffi"` (shared
 * memory, where FFI is granted) unless `MP_SHARED_MEMORY=proxy` (or no FFI)
 * keeps them in the parent, behind the proxy. The `test` task runs the
 * cross-process suites both ways.
 */
export const SUBPROCESS_PRIMITIVES: "ffi" | "proxy" = usesSegments()
  ? "ffi"
  : "proxy";

/**
 * Options for a test of the proxy itself (how a subprocess child's calls
 * travel to its parent): it runs where primitives are proxied.
 */
export function testsProxy(): { ignore: boolean } {
  return { ignore: SUBPROCESS_PRIMITIVES !== "proxy" };
}

/**
 * Options for a test whose children share memory with it: Worker children
 * share a raw `SharedArrayBuffer`; subprocess children share a
 * `SharedArray` where it lives in shared memory (FFI granted), and the
 * test is skipped there when primitives are proxied (raw memory cannot
 * enter another OS process, and a proxied array's writes take a round trip
 * the test does not expect).
 */
export function sharesMemory(backend: Backend): { ignore: boolean } {
  return {
    ignore: backend !== "worker" && SUBPROCESS_PRIMITIVES !== "ffi",
  };
}

/**
 * Starts a child running the export `name` of `module` on `backend`: the one
 * way the cross-process tests start their children.
 */
export function startChild(
  module: string | URL,
  backend: Backend,
  name: string,
  args: unknown[] = [],
  options: Omit<ProcessOptions, "target" | "args" | "backend"> = {},
): Process {
  const p = new Process({
    target: { module, export: name },
    args,
    backend,
    ...options,
  });
  p.start();
  return p;
}

/** The pids of the live (not zombie) processes in process group `pgid`. */
export function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // Fields after the command name: state, ppid, pgrp, ...
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") pids.push(Number(entry.name));
    } catch {
      // It ended while we looked.
    }
  }
  return pids;
}

/** Whether `pid` names a live (not zombie) process. */
export function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Polls `done` every 20 ms; false when it still fails at the deadline. */
export async function eventually(
  done: () => boolean,
  within: number,
): Promise<boolean> {
  const deadline = Date.now() + within;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/**
 * A Deno program run by a test in a process group of its own, so that the
 * test can tell which processes it left and end all of them, whatever
 * happens: `await using` kills the whole group when the test is done.
 */
export class ProgramRun implements AsyncDisposable {
  readonly #process: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stderr: Promise<string>;
  #buffer = "";
  #status: Deno.CommandStatus | undefined;

  /**
   * Starts `deno run --allow-all <script> ...args` (or with `flags` in place
   * of `--allow-all`) in a new session.
   */
  constructor(
    script: URL,
    args: string[] = [],
    options: { flags?: string[]; env?: Record<string, string> } = {},
  ) {
    this.#process = new Deno.Command("setsid", {
      args: [
        Deno.execPath(),
        "run",
        ...(options.flags ?? ["--allow-all"]),
        script.href,
        ...args,
      ],
      env: { NO_COLOR: "1", ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#lines = this.#process.stdout.pipeThrough(new TextDecoderStream())
      [Symbol.asyncIterator]();
    this.#stderr = new Response(this.#process.stderr).text();
    this.#process.status.then((status) => this.#status = status);
  }

  /** The program's pid, which is also its process group's id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** The next line the program prints, or `null` at the end of its output. */
  async line(): Promise<string | null> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#lines.next();
      if (done) {
        const rest = this.#buffer;
        this.#buffer = "";
        return rest === "" ? null : rest;
      }
      this.#buffer += value;
    }
    const end = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 1);
    return line;
  }

  /** What the program printed on stderr (once it ended). */
  stderr(): Promise<string> {
    return this.#stderr;
  }

  /** Its status once it ended, or `null` if it still runs after `within` ms. */
  async status(within: number): Promise<Deno.CommandStatus | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) =>
      timer = setTimeout(() => resolve(null), within)
    );
    try {
      return await Promise.race([this.#process.status, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` to the program (not to the rest of its group). */
  kill(signal: Deno.Signal): void {
    this.#process.kill(signal);
  }

  /** The live processes of its group: itself and every descendant. */
  group(): number[] {
    return processGroup(this.pid);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      Deno.kill(-this.pid, "SIGKILL");
    } catch {
      // The whole group has ended.
    }
    await this.#process.status;
    await this.#lines.return?.();
    await this.#stderr.catch(() => "");
  }
}

/** What {@linkcode largestTimerLag} measured. */
export interface TimerLag {
  /** The longest a 5 ms timer fired late while the work ran, in ms. */
  lag: number;
  /** How long the work took, in ms. */
  took: number;
}

/**
 * Runs `work` while a 5 ms timer measures how late it fires at worst: the
 * longest stretch for which the event loop was blocked. Shared by the fault
 * matrix and the pool benchmark, so that both measure the same thing.
 */
export async function largestTimerLag(
  work: () => Promise<void>,
): Promise<TimerLag> {
  let last = performance.now();
  let lag = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 5);
    last = now;
  }, 5);
  const start = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { lag, took: performance.now() - start };
}
