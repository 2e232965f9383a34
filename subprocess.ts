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
 *   daemon or not, sees its control socket close and exits (with code 1),
 *   since the primitives it was given live in the parent. A child blocked
 *   in a call of its own (not one of this library's) notices when it
 *   returns to its event loop.
 * - A child's `Deno.args` are its parent's, as a Worker child's are.
 * - A primitive passed to the child arrives as a proxy: it works the same
 *   (methods, `*Sync` methods, getters and setters, `using`, `for await`)
 *   but is not `instanceof` its class, and each call is a round trip to
 *   the parent, where an agent thread acting as the child carries it out.
 *   So a `Value`'s `.value` and an `Array`'s elements (`.array` too) are
 *   read and written in the parent at each access, never stale; a lock the
 *   child takes is owned by the child's pid and freed when the child dies;
 *   and a `Barrier`'s action, run by the last party to arrive, runs in that
 *   agent. A function cannot be passed to a proxied method (for example
 *   `Condition.waitFor`'s predicate): it throws a `DataCloneError`.
 * - A proxy passed on to a grandchild (Worker or subprocess) talks to the
 *   same agent, which acts as the child. A primitive a subprocess child
 *   makes and sends to its parent (over a `Pipe`) arrives there as a proxy
 *   served by the child while the child lives.
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
