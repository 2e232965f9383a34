// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * The node agent of a cluster namespace: run one on each machine that should
 * do work. It takes pool tasks and process starts of its namespace and runs
 * them with the library's local `Pool` and `Process` (on Workers), importing
 * each target's module by URL.
 *
 * ```sh
 * deno run --allow-all jsr:@mp/multiprocessing/cluster/agent \
 *   --connect nats://10.0.0.1:4222 --namespace demo --processes 8
 * ```
 *
 * Options: `--connect` (servers, comma-separated; default
 * `nats://127.0.0.1:4222`), `--namespace` (default `default`),
 * `--processes` (local workers, default the CPU count), `--replicas` (copies
 * of the streams it creates, default 1), `--token-file` (a file holding the
 * servers' token; default `$MP_CLUSTER_TOKEN`: never put the token itself on
 * the command line), `--allow-unauthenticated` (connect to a server off this
 * machine without a token). The tasks it runs inherit its servers,
 * namespace and token through the environment. It prints `agent ready` once it
 * takes work. SIGTERM or SIGINT: it stops taking work, hands back what it
 * holds unfinished (redelivered at once elsewhere) and exits.
 *
 * @module
 */
import { Pool } from "../pool.ts";
import { cpuCount, Process } from "../process.ts";
import { ProcessError } from "../errors.ts";
import {
  decode,
  encode,
  ENV_ALLOW_UNAUTHENTICATED,
  ENV_NAMESPACE,
  ENV_SERVERS,
  ENV_TOKEN,
  errorOut,
  type JsMsg,
  Link,
  newId,
  retrying,
  sleep,
  WORKING_EVERY_MS,
} from "./nats.ts";
import {
  AGENT_HEARTBEAT_MS,
  ensurePoolStreams,
  ensureStartStream,
  names,
  type ProcessRecord,
  type ResultMessage,
  type StartMessage,
  type TaskMessage,
} from "./protocol.ts";

/** What an agent is told on its command line. */
export interface AgentOptions {
  /** The NATS servers (`--connect`, comma-separated). */
  servers: string[];
  /** The namespace whose work it takes (`--namespace`). */
  namespace: string;
  /** How many local workers run its tasks (`--processes`). */
  processes: number;
  /** Copies of the streams and buckets it creates (`--replicas`). */
  replicas: number;
  /** The servers' token (default `$MP_CLUSTER_TOKEN`). */
  token?: string;
  /** A file whose content is the servers' token (`--token-file`). */
  tokenFile?: string;
  /** Connect to a server off this machine without a token (`--allow-unauthenticated`). */
  allowUnauthenticated?: boolean;
}

/**
 * Reads the agent's command line.
 *
 * @param args The arguments (`Deno.args`).
 * @returns The options, defaults filled in.
 * @throws {TypeError} For an unknown option or one without its value.
 * @throws {RangeError} For a count that is not a whole number from 1 up.
 *
 * @example
 * ```ts
 * import { parseAgentArgs } from "@mp/multiprocessing/cluster/agent";
 * import assert from "node:assert/strict";
 *
 * const options = parseAgentArgs(["--namespace", "demo", "--processes=4"]);
 * assert.equal(options.namespace, "demo");
 * assert.equal(options.processes, 4);
 * ```
 */
export function parseAgentArgs(args: string[]): AgentOptions {
  const options: AgentOptions = {
    servers: ["nats://127.0.0.1:4222"],
    namespace: "default",
    processes: cpuCount(),
    replicas: 1,
  };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--allow-unauthenticated") {
      options.allowUnauthenticated = true;
      continue;
    }
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = inline ?? args[++i];
    if (value === undefined) {
      throw new TypeError(`The option ${flag} needs a value`);
    }
    switch (flag) {
      case "--connect":
        options.servers = value.split(",");
        break;
      case "--namespace":
        options.namespace = value;
        break;
      case "--token-file":
        options.tokenFile = value;
        break;
      case "--processes":
      case "--replicas": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) {
          throw new RangeError(
            `The option ${flag} takes a whole number from 1 up, got ${value}`,
          );
        }
        options[flag === "--processes" ? "processes" : "replicas"] = n;
        break;
      }
      default:
        throw new TypeError(
          `Unknown option ${flag}: use --connect, --namespace, --processes, --replicas, --token-file or --allow-unauthenticated`,
        );
    }
  }
  return options;
}

/** Keeps a delivered message from being redelivered while it is worked on. */
function keepWorking(message: JsMsg): () => void {
  const timer = setInterval(() => message.working(), WORKING_EVERY_MS);
  return () => clearInterval(timer);
}

/** A running agent. */
class Agent {
  readonly id: string = newId();
  #link: Link;
  #pool: Pool;
  #processes: number;
  #stopping = false;
  #stop = new AbortController();
  #held = new Set<JsMsg>();
  #cancelled = new Set<string>();
  #children = new Map<string, Process>();

  constructor(link: Link, processes: number) {
    this.#link = link;
    this.#processes = processes;
    this.#pool = new Pool({ processes, backend: "worker" });
  }

  /** Takes work until {@linkcode Agent.stop}. */
  async run(): Promise<void> {
    const link = this.#link;
    const n = names(link);
    await Promise.all([ensurePoolStreams(link), ensureStartStream(link)]);
    const cancels = link.nc.subscribe(n.cancelSubject, {
      callback: (_error, message) => {
        if (!message) return;
        this.#cancelled.add(decode<string>(message.data));
        if (this.#cancelled.size > 10_000) {
          this.#cancelled.delete(this.#cancelled.values().next().value!);
        }
      },
    });
    const signals = link.nc.subscribe(link.subject("signal", "*"), {
      callback: (_error, message) => {
        const id = message?.subject.split(".").pop() ?? "";
        const child = this.#children.get(id);
        if (!child) return;
        const signal = decode<string>(message!.data);
        if (signal === "SIGKILL") child.kill();
        else child.terminate();
        message!.respond(encode(true));
      },
    });
    await link.nc.flush();
    const heartbeat = await this.#beat();
    console.log("agent ready");
    try {
      await Promise.all([this.#takeTasks(), this.#takeStarts()]);
    } finally {
      clearInterval(heartbeat);
      cancels.unsubscribe();
      signals.unsubscribe();
    }
  }

  /** Writes its heartbeat key now and every {@linkcode AGENT_HEARTBEAT_MS}. */
  async #beat(): Promise<number> {
    const agents = await this.#link.bucket("agents", AGENT_HEARTBEAT_MS * 3);
    const beat = () => agents.put(this.id, encode(Date.now()));
    await retrying(beat);
    return Number(
      setInterval(() => beat().catch(() => {}), AGENT_HEARTBEAT_MS),
    );
  }

  /** Stops taking work and hands back what it holds. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stop.abort();
    this.#pool.terminate();
    for (const message of this.#held) message.nak();
    for (const child of this.#children.values()) child.terminate();
    await this.#pool.join().catch(() => {});
    await this.#link.close();
  }

  /** Fetches as many chunks as there are free places, and runs them. */
  async #takeTasks(): Promise<void> {
    const link = this.#link;
    const n = names(link);
    const consumer = await retrying(() =>
      link.js.consumers.get(n.tasks, n.consumer)
    );
    // Two chunks per worker: one runs while the next is ready.
    const capacity = this.#processes * 2;
    let free = capacity;
    let wake: (() => void) | undefined;
    while (!this.#stopping) {
      if (free === 0) {
        await new Promise<void>((resolve) => wake = resolve);
        continue;
      }
      let batch;
      try {
        batch = await consumer.fetch({ max_messages: free, expires: 1000 });
      } catch {
        if (!this.#stopping) await sleep(200, this.#stop.signal);
        continue;
      }
      try {
        for await (const message of batch) {
          if (this.#stopping) {
            message.nak();
            continue;
          }
          free--;
          this.#task(message).finally(() => {
            free++;
            wake?.();
            wake = undefined;
          });
        }
      } catch {
        // The batch broke off (its server went, heartbeats were missed):
        // what came is running; pull again.
      }
    }
  }

  async #task(message: JsMsg): Promise<void> {
    this.#held.add(message);
    const done = keepWorking(message);
    try {
      const task = decode<TaskMessage>(message.data);
      if (this.#cancelled.has(task.job)) {
        message.ack();
        return;
      }
      let result: ResultMessage;
      if (message.info.deliveryCount > task.attempts) {
        result = {
          job: task.job,
          index: task.index,
          error: errorOut(
            new ProcessError(
              `A task of ${task.fn.name} was delivered ${task.attempts} times and each time its node agent ended before it finished: not trying again`,
            ),
          ),
        };
      } else {
        result = await this.#runChunk(task);
      }
      if (this.#stopping) return;
      await this.#link.publish(
        task.reply,
        encode(result),
        `${task.job}.${task.index}`,
      );
      message.ack();
    } catch (error) {
      // Not answered (the agent stops, or the result could not be sent):
      // hand it back to be delivered again.
      if (!this.#stopping) {
        console.error("A task could not be answered:", error);
        message.nak();
      }
    } finally {
      done();
      this.#held.delete(message);
    }
  }

  async #runChunk(task: TaskMessage): Promise<ResultMessage> {
    const fn = { module: task.fn.module, export: task.fn.name };
    const chunksize = task.items.length || 1;
    try {
      const values = task.star
        // deno-lint-ignore no-explicit-any
        ? await this.#pool.starmap(fn, task.items as any[][], { chunksize })
        : await this.#pool.map(fn, task.items, { chunksize });
      return { job: task.job, index: task.index, values };
    } catch (error) {
      if (this.#stopping) throw error;
      return { job: task.job, index: task.index, error: errorOut(error) };
    }
  }

  /** Takes process starts, one at a time, and runs each child. */
  async #takeStarts(): Promise<void> {
    const link = this.#link;
    const n = names(link);
    const consumer = await retrying(() =>
      link.js.consumers.get(n.starts, n.consumer)
    );
    const records = await link.bucket("procs");
    while (!this.#stopping) {
      let message: JsMsg | null;
      try {
        message = await consumer.next({ expires: 1000 });
      } catch {
        if (!this.#stopping) await sleep(200, this.#stop.signal);
        continue;
      }
      if (!message || this.#stopping) {
        message?.nak();
        continue;
      }
      const start = decode<StartMessage>(message.data);
      const child = new Process({
        target: { module: start.fn.module, export: start.fn.name },
        args: start.args,
        name: start.name,
        backend: "worker",
      });
      const record = (value: ProcessRecord) =>
        retrying(() => records.put(start.id, encode(value)));
      try {
        child.start();
      } catch (error) {
        await record({
          state: "ended",
          agent: this.id,
          exitCode: 1,
          error: errorOut(error),
        });
        message.ack();
        continue;
      }
      this.#children.set(start.id, child);
      await record({ state: "running", agent: this.id, pid: child.pid });
      message.ack();
      child.join().then(async (exitCode) => {
        this.#children.delete(start.id);
        if (this.#stopping && exitCode === -15) return;
        await record({
          state: "ended",
          agent: this.id,
          exitCode: exitCode ?? 1,
          error: child.error ? errorOut(child.error) : undefined,
        });
      }).catch((error) =>
        console.error("A process's end could not be recorded:", error)
      );
    }
  }
}

/** The token in a file (surrounding whitespace, such as a final newline, dropped). */
async function readToken(path: string): Promise<string> {
  const token = (await Deno.readTextFile(path)).trim();
  if (token === "") {
    throw new TypeError(
      `The token file ${path} is empty: write the servers' token in it`,
    );
  }
  return token;
}

/**
 * Runs a node agent until SIGTERM or SIGINT, which end it after it handed
 * back the work it held. What `deno run .../cluster/agent` does.
 *
 * @param options Where to connect, the namespace, the local workers.
 * @returns When the agent stopped taking work.
 * @throws {ProcessError} For a server off this machine without a token.
 * @throws {AuthenticationError} When the server refuses the token.
 * @throws {TypeError} For an empty token file.
 * @throws When no server answers, or the token file cannot be read.
 *
 * @example Run an agent from a program of your own
 * ```ts
 * import { runAgent } from "@mp/multiprocessing/cluster/agent";
 *
 * // Needs a NATS server, so it is a function this example does not call.
 * export async function serve(): Promise<void> {
 *   await runAgent({
 *     servers: ["nats://127.0.0.1:4222"],
 *     namespace: "demo",
 *     processes: 4,
 *     replicas: 1,
 *   });
 * }
 * ```
 */
export async function runAgent(options: AgentOptions): Promise<void> {
  const token = options.token ??
    (options.tokenFile === undefined
      ? undefined
      : await readToken(options.tokenFile));
  const link = await Link.open({
    servers: options.servers,
    namespace: options.namespace,
    replicas: options.replicas,
    token,
    allowUnauthenticated: options.allowUnauthenticated,
  });
  // What the tasks it runs see: `connectCluster()` with no options joins
  // this agent's namespace with its credentials. The environment, not the
  // command line of a subprocess, carries the token.
  Deno.env.set(ENV_SERVERS, options.servers.join(","));
  Deno.env.set(ENV_NAMESPACE, options.namespace);
  if (token !== undefined) Deno.env.set(ENV_TOKEN, token);
  if (options.allowUnauthenticated) {
    Deno.env.set(ENV_ALLOW_UNAUTHENTICATED, "1");
  }
  const agent = new Agent(link, options.processes);
  const stop = () => {
    agent.stop().finally(() => Deno.exit(0));
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await agent.run();
}

if (import.meta.main) {
  await runAgent(parseAgentArgs(Deno.args));
}
