// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * The subprocess backend: children that are OS processes.
 *
 * `new Process({ backend: "subprocess" })` runs its target in a new
 * `Deno.Command` of `Deno.execPath()`: its own heap and its own pid, so it
 * can be signalled, killed from outside, and run out of memory without
 * harming its parent. Everything else works as on Workers, including every
 * primitive passed in `args`: a `SharedArrayBuffer` cannot cross an OS
 * process, so the process that made a primitive operates it for the child,
 * which holds a proxy whose methods, getters and setters are forwarded
 * there (`*Sync` methods block the child until the answer comes back).
 *
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 * import assert from "node:assert/strict";
 *
 * const p = new Process({
 *   target: { module: "data:text/javascript,export function f() { Deno.exit(3) }", export: "f" },
 *   backend: "subprocess",
 *   permissions: "none",
 * });
 * p.start();
 * assert.equal(await p.join(), 3);
 * ```
 *
 * What differs from the worker backend:
 * - `pid` is the OS pid; `exitCode` is `-signal` for a child that a signal
 *   ended (`terminate()` sends SIGTERM, `kill()` SIGKILL), whoever sent it.
 * - A child gets its parent's permissions by default, as flags of the new
 *   `deno run`: each kind the parent holds in full (`--allow-read`...), or
 *   `--allow-all`. A kind the parent holds only for some paths or hosts is
 *   not passed on (Deno cannot list them): name it in `permissions`.
 *   `v8Flags` sets the child's V8 flags (for example a heap limit).
 * - Starting one needs `--allow-run` (for `Deno.execPath()`) and read, write
 *   and net access to the Unix sockets the library makes in a temporary
 *   directory; `--allow-all` covers all of it.
 * - The child's stdout and stderr are its parent's; its stdin is empty.
 * - A parent that dies without waiting for its children (killed, crashed,
 *   or `Deno.exit()` before `join()`) does not leave them running: a child,
 *   daemon or not, sees its control socket close and exits, since the
 *   primitives it was given live in the parent.
 * - A primitive passed to the child arrives as a proxy: it works the same
 *   but is not `instanceof` its class, and each call is a round trip to
 *   the parent. A `Value`'s `.value` and an `Array`'s elements are read
 *   from and written to the parent at each access, so they are never stale.
 * - A primitive made in a subprocess child can be used there and passed to
 *   its own children, but not sent back to its parent inside a message.
 *
 * @module
 */

/**
 * One kind of permission for a child, as Deno's Worker `deno.permissions`
 * takes it: `"inherit"` (what the parent holds of it, if it holds it in
 * full), `true` (all of it; the parent must hold it), `false` (none), or a
 * list of the paths, hosts, variables or commands allowed (each of which
 * the parent must hold).
 */
export type PermissionValue = "inherit" | boolean | (string | URL)[];

/**
 * A subprocess child's permissions: `"inherit"` (the default: each kind the
 * parent holds in full), `"none"`, or one {@linkcode PermissionValue} per
 * kind. As in Deno's Worker options, a kind left out of the object is not
 * granted (`false`). A child never gets more than its parent holds.
 */
export type PermissionOptions = "inherit" | "none" | {
  /** File system reads (`--allow-read`). */
  read?: PermissionValue;
  /** File system writes (`--allow-write`). */
  write?: PermissionValue;
  /** Network access (`--allow-net`), by `host` or `host:port`. */
  net?: PermissionValue;
  /** Environment variables (`--allow-env`). */
  env?: PermissionValue;
  /** System information (`--allow-sys`), by API name. */
  sys?: PermissionValue;
  /** Running commands (`--allow-run`). */
  run?: PermissionValue;
  /** Foreign functions (`--allow-ffi`). */
  ffi?: PermissionValue;
  /** Importing remote modules (`--allow-import`), by host. */
  import?: PermissionValue;
};
