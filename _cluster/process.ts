// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A child on some node agent of the namespace. `start()` publishes a start
// message to a work-queue stream; the agent that takes it starts a local
// Process and writes the child's record (running, then ended with its exit
// code and error) to the namespace's processes bucket, which this handle
// watches. Agents write a heartbeat key that ages out when they die, so a
// child whose agent is gone ends here too, never hangs a join().
import { ProcessError } from "../errors.ts";
import { internalModule, PROCESS_TARGET } from "../_target.ts";
import { functionRef } from "./target.ts";
import { checkTimeout, deadlineOf, remaining } from "../_timeout.ts";
import {
  decode,
  encode,
  errorIn,
  type KV,
  type Link,
  newId,
  retrying,
  sleep,
} from "./nats.ts";
import {
  AGENT_HEARTBEAT_MS,
  ensureStartStream,
  type FunctionRef,
  names,
  type ProcessRecord,
  type StartMessage,
} from "./protocol.ts";

internalModule(import.meta.url);

/** Options of {@linkcode ClusterProcess}. */
export interface ClusterProcessOptions<A extends unknown[] = unknown[]> {
  /**
   * The function the child runs: exported by its module (the agent imports
   * it by URL), or `{ module, export }`.
   */
  target: ((...args: A) => unknown) | { module: string | URL; export: string };
  /** Its arguments (any values V8 serializes). */
  args?: A;
  /** The name (default `Process-N`). */
  name?: string;
}

let processCount = 0;

/**
 * A child process run by a node agent of a cluster namespace: the API of
 * the local `Process`. Made by `new cluster.Process({ target, args })` (see
 * `connectCluster`).
 *
 * @example Run a function on some node
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export function greet(name: string): void {
 *   console.log(`Hi ${name} from ${Deno.hostname()}`);
 * }
 *
 * export async function run(): Promise<number | null> {
 *   await using cluster = await connectCluster({ namespace: "demo" });
 *   const p = new cluster.Process({ target: greet, args: ["cluster"] });
 *   await p.start();
 *   return await p.join(); // 0
 * }
 * ```
 */
export class ClusterProcess<A extends unknown[] = unknown[]> {
  /** The child's name. */
  readonly name: string;
  #link: Link;
  #target: Promise<FunctionRef>;
  #args: A;
  #id = newId();
  #started: Promise<void> | undefined;
  #record: ProcessRecord | undefined;
  #ended: Promise<void> | undefined;
  #end: (() => void) | undefined;

  /** @internal Made by a cluster connection. */
  constructor(link: Link, options: ClusterProcessOptions<A>) {
    this.#link = link;
    // Named now, while the caller's frame is on the stack; a bad target is
    // reported by start().
    this.#target = functionRef(options.target, PROCESS_TARGET);
    this.#target.catch(() => {});
    this.#args = (options.args ?? []) as A;
    this.name = options.name ?? `Process-${++processCount}`;
  }

  /** The child's exit code: `null` until it ended (see the local `Process`). */
  get exitCode(): number | null {
    return this.#record?.state === "ended" ? this.#record.exitCode ?? 1 : null;
  }

  /** The child's uncaught error, rebuilt here; `undefined` otherwise. */
  get error(): Error | undefined {
    const data = this.#record?.error;
    return data ? errorIn(data) : undefined;
  }

  /** The child's id on its agent's machine, once it runs. */
  get pid(): number | undefined {
    return this.#record?.pid;
  }

  /**
   * Starts the child on an agent. The returned promise resolves once the
   * start was stored (a `join()` waits for it too).
   *
   * @returns When the start is stored on the servers.
   * @throws {ProcessError} When it was started before.
   */
  start(): Promise<void> {
    if (this.#started) {
      throw new ProcessError(`Cannot start ${this.name} twice`);
    }
    this.#ended = new Promise((resolve) => this.#end = resolve);
    this.#started = this.#start();
    this.#started.catch(() => {});
    return this.#started;
  }

  async #start(): Promise<void> {
    const link = this.#link;
    const fn = await this.#target;
    const records = await link.bucket("procs");
    await ensureStartStream(link);
    await this.#watch(records);
    const message: StartMessage = {
      id: this.#id,
      name: this.name,
      fn,
      args: this.#args,
    };
    await link.publish(names(link).startSubject, encode(message), this.#id);
  }

  /** Follows the child's record, and its agent's heartbeat while it runs. */
  async #watch(records: KV): Promise<void> {
    const watch = await records.watch({ key: this.#id });
    (async () => {
      for await (const entry of watch) {
        if (entry.operation !== "PUT") continue;
        this.#record = decode<ProcessRecord>(entry.value);
        if (this.#record.state === "ended") break;
      }
    })().catch(() => {}).finally(() => {
      watch.stop();
      if (this.#record?.state === "ended") this.#end?.();
    });
    this.#followAgent().catch(() => {});
  }

  async #followAgent(): Promise<void> {
    const agents = await this.#link.bucket("agents", AGENT_HEARTBEAT_MS * 3);
    const records = await this.#link.bucket("procs");
    while (this.exitCode === null && !this.#link.nc.isClosed()) {
      await sleep(AGENT_HEARTBEAT_MS);
      // The watch may have gone quiet with its server: read the record too.
      const entry = await records.get(this.#id).catch(() => undefined);
      if (entry?.operation === "PUT" && this.exitCode === null) {
        this.#record = decode<ProcessRecord>(entry.value);
        if (this.exitCode !== null) {
          this.#end?.();
          break;
        }
      }
      const agent = this.#record?.agent;
      if (!agent || this.exitCode !== null) continue;
      // `undefined`: the servers did not answer; ask again.
      const beat = await agents.get(agent).catch(() => undefined);
      if (beat === undefined) continue;
      if (beat === null || beat.operation !== "PUT") {
        if (this.exitCode !== null) break;
        this.#record = {
          state: "ended",
          agent,
          exitCode: -9,
          error: {
            name: "ProcessError",
            message:
              `The node agent running ${this.name} stopped answering (its heartbeat ran out): the child is lost with it`,
          },
        };
        this.#end?.();
      }
    }
  }

  /**
   * Waits until the child ended.
   *
   * @param timeout Milliseconds to wait at most (default: forever).
   * @returns Its exit code, or `null` when the timeout passed first.
   * @throws {ProcessError} When it was never started.
   */
  async join(timeout?: number): Promise<number | null> {
    checkTimeout(timeout);
    if (!this.#started) {
      throw new ProcessError(
        `Cannot join ${this.name}: it was never started; call start() first`,
      );
    }
    const deadline = deadlineOf(timeout);
    await this.#started;
    if (this.exitCode !== null) return this.exitCode;
    const left = remaining(deadline);
    if (left === Infinity) await this.#ended;
    else {
      const stop = new AbortController();
      await Promise.race([this.#ended, sleep(left, stop.signal)]);
      stop.abort();
    }
    return this.exitCode;
  }

  /** Whether it was started and has not ended (as far as this handle knows). */
  isAlive(): boolean {
    return this.#started !== undefined && this.exitCode === null;
  }

  /** Asks its agent to end it (exit code -15). */
  terminate(): void {
    this.#signal("SIGTERM");
  }

  /** Asks its agent to end it at once (exit code -9). */
  kill(): void {
    this.#signal("SIGKILL");
  }

  #signal(signal: string): void {
    if (!this.#started) {
      throw new ProcessError(
        `Cannot signal ${this.name}: it was never started; call start() first`,
      );
    }
    const link = this.#link;
    const send = async () => {
      await this.#started;
      // Until an agent runs it, the signal has no one to go to: wait.
      while (!this.#record && this.exitCode === null) await sleep(50);
      if (this.exitCode !== null) return;
      await retrying(() =>
        link.nc.request(names(link).signalSubject(this.#id), encode(signal), {
          timeout: 2000,
        })
      );
    };
    send().catch(() => {});
  }
}
