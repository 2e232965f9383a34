// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The entry of every Worker child. It reports the child's end to the parent
// exactly once, whichever way the child ends, because Deno tells the parent
// nothing when a Worker closes.
/// <reference lib="deno.worker" />
import type { EndMessage, StartMessage } from "../launcher.ts";
import { printChildError, runChild, setStartedBy } from "../child.ts";
import { errorToData } from "../../_error.ts";
import { runChildExitHooks } from "../exit_hooks.ts";
import { adoptTreeState } from "../../_shm/registry.ts";
import { beforeWorkerEnds } from "../../_deno_compat.ts";

let reported = false;
function reportEnd(end: Omit<EndMessage, "type">): void {
  if (reported) return;
  reported = true;
  runChildExitHooks();
  self.postMessage({ type: "end", ...end } satisfies EndMessage);
}

const closeWorker = beforeWorkerEnds((exitCode) => reportEnd({ exitCode }));

function fail(error: unknown): void {
  if (reported) return;
  printChildError(error);
  reportEnd({ exitCode: 1, error: errorToData(error) });
  closeWorker();
}
self.addEventListener("error", (event) => {
  event.preventDefault();
  fail(event.error ?? new Error(event.message));
});
self.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  fail(event.reason);
});

self.onmessage = async (event: MessageEvent<StartMessage>) => {
  self.onmessage = null;
  adoptTreeState(event.data.tree);
  setStartedBy("worker");
  const end = await runChild(event.data.target, event.data.args);
  reportEnd(end);
  closeWorker();
};
