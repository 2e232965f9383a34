// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Children on Deno Workers. Deno gives no event when a Worker ends, so the
// child's entry reports its end itself (see main.ts) on every path:
// return, uncaught error, `exit(n)`, `Deno.exit(n)`, `self.close()`. A Worker
// that fails before our entry runs raises an `error` event instead.
import {
  type ChildEnd,
  type ChildHandle,
  type Launcher,
  type LaunchSpec,
  registerLauncher,
  type StartMessage,
} from "../launcher.ts";
import {
  allocateWorkerPid,
  childTreeState,
  markAlive,
  markEnded,
} from "../../_shm/registry.ts";
import { setWorkerRef } from "../../_deno_compat.ts";
import { ownAuthkey } from "../../_net/handshake.ts";

const ENTRY = new URL("./main.ts", import.meta.url);

class WorkerChild implements ChildHandle {
  readonly pid: number;
  readonly ended: Promise<ChildEnd>;
  #worker: Worker;
  #resolve!: (end: ChildEnd) => void;
  #done = false;

  constructor(spec: LaunchSpec, daemon: boolean) {
    this.pid = spec.identity.pid;
    this.ended = new Promise((resolve) => this.#resolve = resolve);
    this.#worker = new Worker(ENTRY, {
      type: "module",
      name: spec.identity.name,
    });
    this.#worker.onmessage = (event) => {
      if (event.data?.type === "end") this.#finish(event.data);
    };
    this.#worker.onerror = (event) => {
      // An error the child's entry could not catch (it failed to load):
      // keep it from ending the parent, and report it as the child's end.
      event.preventDefault();
      this.#finish({
        exitCode: 1,
        error: { name: "Error", message: event.message },
      });
    };
    markAlive(this.pid);
    try {
      this.#worker.postMessage(
        {
          type: "start",
          tree: childTreeState(spec.identity),
          target: spec.target,
          args: spec.args,
          authkey: ownAuthkey(),
        } satisfies StartMessage,
        spec.transfer,
      );
    } catch (error) {
      this.#worker.terminate();
      markEnded(this.pid);
      throw error;
    }
    if (daemon) setWorkerRef(this.#worker, false);
  }

  stop(signal: number): void {
    this.#finish({ exitCode: -signal });
  }

  #finish(end: ChildEnd): void {
    if (this.#done) return;
    this.#done = true;
    // Ended in the table first: a thread that terminate() does not stop
    // (one busy in synchronous code) finds every library call refused.
    markEnded(this.pid);
    this.#worker.terminate();
    // Nor must such a thread keep this process alive once its main module
    // is done.
    setWorkerRef(this.#worker, false);
    this.#resolve({ exitCode: end.exitCode, error: end.error });
  }
}

/** Starts children on Deno Workers. */
const workerLauncher: Launcher = {
  backend: "worker",
  // A Worker child has its parent's permissions and heap.
  takes: [],
  // What loading the child's entry needs; its target's module may need
  // more, which the Worker reports as the child's error.
  needs: () => [
    ENTRY.protocol === "file:"
      ? { name: "read", path: ENTRY }
      : { name: "import", host: ENTRY.host },
  ],
  allocatePid: allocateWorkerPid,
  launch: (spec, { daemon }) => new WorkerChild(spec, daemon),
};

registerLauncher(workerLauncher);
