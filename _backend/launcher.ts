// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What a backend (Workers, subprocesses) gives `Process`: a way to start a
// child and one way to learn of its end, whichever way it ended.
import type { ErrorData } from "../_error.ts";
import type { Identity } from "../_shm/registry.ts";
import type { TargetSpec } from "../_target.ts";
import type { Backend } from "../_wire.ts";

/** How a child ended. */
export interface ChildEnd {
  /** 0, the child's `exit(n)`, 1 for an uncaught error, `-signal` when stopped. */
  exitCode: number;
  /** The child's uncaught error, as data. */
  error?: ErrorData;
}

/** What a backend needs to start a child. */
export interface LaunchSpec {
  identity: Identity;
  target: TargetSpec;
  /** The encoded arguments. */
  args: unknown[];
  transfer: Transferable[];
}

/** How to start a child, besides what it runs. */
export interface LaunchOptions {
  daemon: boolean;
  /** Subprocess backend: the child's permissions (default `"inherit"`). */
  permissions?: import("../subprocess.ts").PermissionOptions;
  /** Subprocess backend: the child's V8 flags. */
  v8Flags?: string[];
}

/** A started child, as its parent sees it. */
export interface ChildHandle {
  readonly pid: number;
  /** Settles once, when the child has ended; never rejects. */
  readonly ended: Promise<ChildEnd>;
  /** Ends the child with a signal (15 for terminate, 9 for kill). */
  stop(signal: number): void;
}

/** Starts children on one backend. */
export interface Launcher {
  readonly backend: Backend;
  /** Allocates the pid the child will have (before its launch). */
  allocatePid(): number;
  /** Starts a child; throws a `DataCloneError` when `args` cannot be sent. */
  launch(spec: LaunchSpec, options: LaunchOptions): ChildHandle;
}

/** The message a child's entry receives first. */
export interface StartMessage {
  type: "start";
  tree: import("../_shm/registry.ts").TreeState;
  target: TargetSpec;
  args: unknown[];
}

/** The message a child's entry sends last. */
export interface EndMessage extends ChildEnd {
  type: "end";
}

const launchers = new Map<Backend, Launcher>();

/** Makes a backend available to `Process`; each backend's module calls it. */
export function registerLauncher(launcher: Launcher): void {
  launchers.set(launcher.backend, launcher);
}

/** The launcher of `backend`; a `TypeError` for an unknown one. */
export function launcherOf(backend: unknown): Launcher {
  const launcher = launchers.get(backend as Backend);
  if (!launcher) {
    throw new TypeError(
      `Unknown backend ${
        JSON.stringify(backend)
      }: use "worker" or "subprocess"`,
    );
  }
  return launcher;
}
