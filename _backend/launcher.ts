// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What a backend (Workers, subprocesses) gives `Process`: a way to start a
// child, one way to learn of its end, whichever way it ended, and what else
// differs between backends (the options their children take, how a
// primitive crosses into a child that cannot share memory). Each backend's
// launcher module registers itself when it loads; process.ts loads them.
import type { ErrorData } from "../_error.ts";
import type { Backend, PermissionOptions } from "../process.ts";
import type { Identity } from "../_shm/registry.ts";
import type { TargetSpec } from "../_target.ts";
import { type Exporter, registerExporter } from "../_wire.ts";

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

/** The options of a child that only some backends take. */
export interface ChildOptions {
  /** The child's permissions (default `"inherit"`). */
  permissions?: PermissionOptions;
  /** The child's V8 flags. */
  v8Flags?: string[];
}

/** How to start a child, besides what it runs. */
export interface LaunchOptions extends ChildOptions {
  daemon: boolean;
}

const CHILD_OPTIONS: readonly (keyof ChildOptions)[] = [
  "permissions",
  "v8Flags",
];

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
  /** The {@linkcode ChildOptions} that children of this backend take. */
  readonly takes: readonly (keyof ChildOptions)[];
  /**
   * Present when a child cannot share this process's memory (it is an OS
   * process of its own): makes the exporter of one encoding, which turns
   * each primitive sent to the child into a handle that works there.
   */
  exporter?(): Exporter;
  /**
   * The permissions this process must hold to start a child here. A
   * descriptor that names its item (a path, host or command) is what the
   * start uses; one that names only its kind stands for an item that cannot
   * be known beforehand, which a grant of part of the kind may cover.
   */
  needs(): Deno.PermissionDescriptor[];
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
  /** The process tree's authkey. */
  authkey: Uint8Array;
}

/** The message a child's entry sends last. */
export interface EndMessage extends ChildEnd {
  type: "end";
}

const launchers = new Map<Backend, Launcher>();

/** Makes a backend available to `Process`; each backend's module calls it. */
export function registerLauncher(launcher: Launcher): void {
  launchers.set(launcher.backend, launcher);
  if (launcher.exporter) {
    registerExporter(launcher.backend, launcher.exporter.bind(launcher));
  }
}

/** The launcher of `backend`; a `TypeError` for an unknown one. */
export function launcherOf(backend: unknown): Launcher {
  const launcher = launchers.get(backend as Backend);
  if (!launcher) {
    throw new TypeError(
      `Unknown backend ${JSON.stringify(backend)}: use ${
        [...launchers.keys()].map((name) => JSON.stringify(name)).join(" or ")
      }`,
    );
  }
  return launcher;
}

/**
 * Throws a `TypeError` for each option in `options` that children of
 * `launcher` do not take, naming a backend whose children do.
 */
export function checkOptions(launcher: Launcher, options: ChildOptions): void {
  const refused = CHILD_OPTIONS.filter((name) =>
    options[name] !== undefined && !launcher.takes.includes(name)
  );
  if (refused.length === 0) return;
  const other = [...launchers.values()].find((candidate) =>
    refused.every((name) => candidate.takes.includes(name))
  );
  const what = refused.length === 1
    ? `The ${refused[0]} option applies`
    : `The ${refused.join(" and ")} options apply`;
  throw new TypeError(
    other
      ? `${what} to ${other.backend} children only (a ${launcher.backend} child has its parent's permissions and heap): pass backend: ${
        JSON.stringify(other.backend)
      }`
      : `${what} to no backend that is loaded: leave it out`,
  );
}
