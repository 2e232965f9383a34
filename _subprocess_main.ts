// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The entry of every subprocess child. Its main module (a data: URL, see
// _subprocess_backend.ts) imports this module first, then the target's
// module, then calls `main` with the latter's exports. This module starts
// connecting to the parent as soon as it is evaluated, so that the
// connection is made while the target's module loads.
import type { ControlMessage, StartInfo } from "./_subprocess_backend.ts";
import { printChildError, runChild } from "./_child.ts";
import { errorToData } from "./_error.ts";
import {
  adoptTreeState,
  childTreeState,
  markAlive,
  markEnded,
} from "./_registry.ts";
import { type Frame, FrameWriter, readFrames } from "./_subprocess_channel.ts";
import type { ChildEnd } from "./_backend.ts";

const info = JSON.parse(Deno.args[0]) as StartInfo;
const connecting = Deno.connect({ transport: "unix", path: info.sock });
connecting.catch(() => {});

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

async function finish(end: ChildEnd, conn: Deno.Conn | undefined) {
  if (ending) return;
  ending = true;
  if (end.error && conn) {
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
  let conn: Deno.Conn;
  try {
    conn = await connecting;
  } catch {
    // No parent to run for.
    Deno.exit(1);
  }
  const fail = (error: unknown) => {
    printChildError(error);
    finish({ exitCode: 1, error: errorToData(error) }, conn);
  };
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    fail(event.error ?? new Error(event.message));
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    fail(event.reason);
  });
  const frames = readFrames(conn);
  await new FrameWriter(conn).send(
    { t: "hello", token: info.token } satisfies ControlMessage,
  );
  let args = info.args ?? [];
  if (info.wait) {
    const first = await frames.next();
    if (first.done) Deno.exit(1);
    const start = first.value.value as ControlMessage;
    if (start.t === "start" && start.args) args = start.args;
  }
  // The socket stays referenced: as a Worker child does, this child runs
  // until its target settles, even a target that awaits forever.
  watch(frames);
  await finish(await runChild(info.target, args), conn);
}
