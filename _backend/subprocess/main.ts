// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The entry of every subprocess child. Its main module (a data: URL, see
// launcher.ts) imports this module first, then the target's
// module, then calls `main` with the latter's exports. This module starts
// connecting to the parent as soon as it is evaluated, so that the
// connection is made while the target's module loads.
import type { ControlMessage, StartInfo } from "./launcher.ts";

const START_INFO = Symbol.for("multiprocessing.startInfo");
import {
  printChildError,
  runChild,
  setBootstrapping,
  setStartedBy,
} from "../child.ts";
import { errorToData } from "../../_error.ts";
import {
  adoptTreeState,
  childTreeState,
  markAlive,
  markEnded,
} from "../../_shm/registry.ts";
import { type Frame, FrameWriter, readFrames } from "./channel.ts";
import type { ChildEnd } from "../launcher.ts";
import { setWorkerRef } from "../../_deno_compat.ts";

// Set by the first import of the child's main module.
const global = globalThis as { [START_INFO]?: StartInfo };
const info = global[START_INFO]!;
delete global[START_INFO];
// The main module imports the target's module next: runChild clears this.
setBootstrapping(info.target.module);
setStartedBy("subprocess");

// This process ends with its parent (see launcher.ts): the kernel kills it,
// or, where the parent could not ask the kernel, the watchdog below does.
// This module is evaluated before the target's: a parent that died before
// either was in place has already left this process to another.
if (Deno.ppid !== info.ppid) Deno.exit(1);
if (info.watchParent) watchParent(info.ppid);

/**
 * Kills this process once its parent is gone, from a Worker, which runs
 * however busy the main thread is (Deno.exit in a Worker would end only the
 * Worker; a process may kill itself without permission). Starting it costs
 * a few tens of ms, which setpriv spares.
 */
function watchParent(ppid: number): void {
  const code = `setInterval(()=>{` +
    `if(Deno.ppid!==${ppid})Deno.kill(Deno.pid,"SIGKILL")},100)`;
  const watchdog = new Worker(
    `data:text/javascript,${encodeURIComponent(code)}`,
    { type: "module", name: "multiprocessing parent watchdog" },
  );
  setWorkerRef(watchdog, false);
}

// Connecting runs beside the loading of the target's module and, unless the
// child must wait for its arguments, beside the target itself: a child
// needs its parent's socket only to report an error, to learn of the
// parent's death, or to receive what did not fit in argv.
const control = Deno.connect({ transport: "unix", path: info.sock }).then(
  async (conn) => {
    await new FrameWriter(conn).send(
      { t: "hello", token: info.token } satisfies ControlMessage,
    );
    return { conn, frames: readFrames(conn) };
  },
);
// No parent to run for.
control.catch(() => Deno.exit(1));

const self = { ...info.identity, pid: Deno.pid };
adoptTreeState(childTreeState(self));
// The parent is alive as long as its socket is open (see `watch`).
if (self.parentPid !== null) markAlive(self.parentPid);

let ending = false;
let acked: (() => void) | undefined;

/** Reads the control socket to its end: the parent's death ends us. */
async function watch(frames: AsyncGenerator<Frame>): Promise<void> {
  for await (const { value } of frames) {
    if ((value as ControlMessage).t === "ack") acked?.();
  }
  if (self.parentPid !== null) markEnded(self.parentPid);
  acked?.();
  // The parent died without waiting for us: what we were given lives in
  // it, and nobody would hear how we end, so we end too.
  if (!ending) Deno.exit(1);
}

async function finish(end: ChildEnd): Promise<void> {
  if (ending) return;
  ending = true;
  if (end.error) {
    const { conn } = await control;
    // The parent must have the error before it sees us exit, so wait for
    // its word that it has it.
    const { promise, resolve } = Promise.withResolvers<void>();
    acked = resolve;
    await new FrameWriter(conn).send(
      { t: "end", error: end.error } satisfies ControlMessage,
    ).then(() => promise, () => {});
  }
  Deno.exit(end.exitCode);
}

/**
 * Runs the child: called by the main module with the target module's
 * exports (already imported, which is how a child without read permission
 * still loads its target).
 */
export async function main(_target: Record<string, unknown>): Promise<void> {
  const fail = (error: unknown) => {
    printChildError(error);
    finish({ exitCode: 1, error: errorToData(error) });
  };
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    fail(event.error ?? new Error(event.message));
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    fail(event.reason);
  });
  let args = info.args ?? [];
  if (info.wait) {
    const { frames } = await control;
    const first = await frames.next();
    if (first.done) Deno.exit(1);
    const start = first.value.value as ControlMessage;
    if (start.t === "start" && start.args) args = start.args;
  }
  // The socket stays referenced: as a Worker child does, this child runs
  // until its target settles, even a target that awaits forever.
  control.then(({ frames }) => watch(frames));
  await finish(await runChild(info.target, args));
}
