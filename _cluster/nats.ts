// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The one place that names the NATS client packages (pinned), and what every
// cluster object shares: the connection, the names of streams, subjects and
// buckets of a namespace, and how values and errors travel as bytes.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type PubAck,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { deserialize, serialize } from "node:v8";
import { dataToError, type ErrorData, errorToData } from "../_error.ts";
import { AuthenticationError, ProcessError } from "../errors.ts";

export type { JsMsg, StreamInfo } from "@nats-io/jetstream";
export type { KV, KvEntry } from "@nats-io/kv";
export type { NatsConnection };

/** How long a delivered task or item may go unacknowledged before it is redelivered. */
export const ACK_WAIT_MS = 3000;
/** How often a holder of a delivered message says it still works on it. */
export const WORKING_EVERY_MS = 1000;

/** How {@linkcode Link.ensureStream} makes a stream and its consumer. */
interface StreamOptions {
  workQueue?: boolean;
  maxMsgs?: number;
  maxAgeMs?: number;
  consumer?: string;
}

/** Options of a connection to a cluster. */
export interface ClusterOptions {
  /**
   * The NATS servers to connect to: `"nats://host:4222"`, a list of them,
   * or (default) `$MP_CLUSTER_SERVERS`, else `"nats://127.0.0.1:4222"`.
   */
  servers?: string | string[];
  /**
   * The namespace: programs and agents of one namespace share its pool,
   * queues and locks; others do not see them (default
   * `$MP_CLUSTER_NAMESPACE`, else `"default"`). Letters, digits, `_`, `-`.
   */
  namespace?: string;
  /**
   * How many servers keep a copy of each stream and bucket this connection
   * creates (default 1; 3 on a 3-node cluster survives the loss of a node).
   */
  replicas?: number;
  /**
   * The token the servers ask for (default `$MP_CLUSTER_TOKEN` when no
   * `user` is given). Keep it out of command lines: pass it here or in the
   * environment.
   */
  token?: string;
  /** The user name the servers ask for, with {@linkcode ClusterOptions.pass}. */
  user?: string;
  /** The password of {@linkcode ClusterOptions.user}. */
  pass?: string;
  /**
   * Allows connecting to a server that is not on a loopback address without
   * credentials (default false: anyone who reaches such a server could run
   * code on the agents).
   */
  allowUnauthenticated?: boolean;
}

/** The environment variables an agent sets for the tasks it runs. */
export const ENV_SERVERS = "MP_CLUSTER_SERVERS";
/** See {@linkcode ENV_SERVERS}. */
export const ENV_NAMESPACE = "MP_CLUSTER_NAMESPACE";
/** The token a connection uses when none is given; see {@linkcode ENV_SERVERS}. */
export const ENV_TOKEN = "MP_CLUSTER_TOKEN";
/** Set to `1`: `allowUnauthenticated` when not given; see {@linkcode ENV_SERVERS}. */
export const ENV_ALLOW_UNAUTHENTICATED = "MP_CLUSTER_ALLOW_UNAUTHENTICATED";

/** Whether a server URL (`nats://host:port`, `host:port`) names this machine only. */
export function isLoopbackServer(server: string): boolean {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server)
    ? server
    : `nats://${server}`;
  let hostname: string;
  try {
    hostname = new URL(withScheme).hostname;
  } catch {
    return false;
  }
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\./.test(host) ||
    host === "::ffff:127.0.0.1";
}

/** The credentials of a connection: given ones, else the environment's token. */
function credentials(
  options: ClusterOptions,
): { token?: string; user?: string; pass?: string } {
  if (options.user !== undefined || options.pass !== undefined) {
    if (typeof options.user !== "string" || typeof options.pass !== "string") {
      throw new TypeError(
        "The options user and pass go together: give both or neither",
      );
    }
    return { user: options.user, pass: options.pass };
  }
  const token = options.token ?? fromEnv(ENV_TOKEN);
  if (token !== undefined && (typeof token !== "string" || token === "")) {
    throw new TypeError("The token must be a non-empty string");
  }
  return token === undefined ? {} : { token };
}

function fromEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/** A name of a namespace, queue or lock: safe in a subject and a stream name. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new TypeError(
      `The ${what} must be 1 to 64 letters, digits, "_" or "-", got ${
        typeof name === "string" ? JSON.stringify(name) : typeof name
      }`,
    );
  }
  return name;
}

/** A connection to a namespace of a cluster, shared by its objects. */
export class Link {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly namespace: string;
  readonly servers: string[];
  readonly replicas: number;
  #kvm: Kvm;
  #buckets = new Map<string, Promise<KV>>();
  #streams = new Map<string, Promise<void>>();

  private constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    namespace: string,
    servers: string[],
    replicas: number,
  ) {
    this.nc = nc;
    this.jsm = jsm;
    this.js = jetstream(nc, { timeout: 5000 });
    this.namespace = namespace;
    this.servers = servers;
    this.replicas = replicas;
    this.#kvm = new Kvm(this.js);
  }

  /** Connects; reconnects forever after a server loss. */
  static async open(options: ClusterOptions = {}): Promise<Link> {
    const given = options.servers ?? fromEnv(ENV_SERVERS)?.split(",") ??
      "nats://127.0.0.1:4222";
    const servers = typeof given === "string" ? given.split(",") : [...given];
    const namespace = checkName(
      options.namespace ?? fromEnv(ENV_NAMESPACE) ?? "default",
      "namespace",
    );
    const replicas = options.replicas ?? 1;
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) {
      throw new RangeError(
        `The replicas must be a whole number from 1 to 5, got ${replicas}`,
      );
    }
    const auth = credentials(options);
    const remote = servers.filter((server) => !isLoopbackServer(server));
    if (
      !auth.token && !auth.user && remote.length > 0 &&
      !(options.allowUnauthenticated ??
        fromEnv(ENV_ALLOW_UNAUTHENTICATED) === "1")
    ) {
      throw new ProcessError(
        `Cannot connect to ${
          remote[0]
        } without credentials: a server off this machine ` +
          `must ask for them; pass token or user and pass, or set ${ENV_TOKEN} ` +
          "(or allowUnauthenticated: true to connect anyway)",
      );
    }
    guardOrphanResets();
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        timeout: 5000,
        ...auth,
      });
    } catch (error) {
      if (refusedCredentials(error)) {
        throw new AuthenticationError(
          `The NATS server at ${servers.join(",")} refused ${
            auth.token || auth.user
              ? "the credentials"
              : "to connect without credentials"
          }: pass the right token or user and pass, or set ${ENV_TOKEN}`,
          { cause: error },
        );
      }
      throw error;
    }
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    return new Link(nc, jsm, namespace, servers, replicas);
  }

  /** A subject of this namespace: `mp.<namespace>.<parts>`. */
  subject(...parts: string[]): string {
    return ["mp", this.namespace, ...parts].join(".");
  }

  /** A stream name of this namespace. */
  streamName(name: string): string {
    return `MP_${this.namespace}_${name}`;
  }

  /**
   * Makes sure a stream exists (once per link), with a durable pull
   * consumer `consumer` acknowledging explicitly when given.
   */
  ensureStream(
    name: string,
    subjects: string[],
    options: StreamOptions,
  ): Promise<void> {
    let made = this.#streams.get(name);
    if (!made) {
      made = this.#makeStream(name, subjects, options);
      made.catch(() => this.#streams.delete(name));
      this.#streams.set(name, made);
    }
    return made;
  }

  async #makeStream(
    name: string,
    subjects: string[],
    options: StreamOptions,
  ): Promise<void> {
    await retrying(async () => {
      try {
        await this.jsm.streams.info(name);
      } catch (error) {
        if (!String((error as Error)?.message).includes("not found")) {
          throw error;
        }
        await this.jsm.streams.add({
          name,
          subjects,
          retention: options.workQueue
            ? RetentionPolicy.Workqueue
            : RetentionPolicy.Limits,
          storage: StorageType.File,
          num_replicas: this.replicas,
          max_msgs: options.maxMsgs ?? -1,
          discard: options.maxMsgs ? DiscardPolicy.New : DiscardPolicy.Old,
          max_age: options.maxAgeMs ? options.maxAgeMs * 1e6 : 0,
          duplicate_window: 120 * 1e9,
        }).catch((error) => {
          // Another client made it first.
          if (!String(error?.message).includes("already in use")) throw error;
        });
      }
      if (options.consumer) {
        await this.jsm.consumers.info(name, options.consumer).catch(() =>
          this.jsm.consumers.add(name, {
            durable_name: options.consumer,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            ack_wait: ACK_WAIT_MS * 1e6,
            max_deliver: -1,
            max_ack_pending: -1,
          })
        );
      }
    });
  }

  /** A key-value bucket of this namespace, made when missing. */
  bucket(name: string, ttlMs?: number): Promise<KV> {
    const full = `mp_${this.namespace}_${name}`;
    let kv = this.#buckets.get(full);
    if (!kv) {
      kv = retrying(() =>
        this.#kvm.create(full, {
          history: 1,
          replicas: this.replicas,
          ...(ttlMs ? { ttl: ttlMs } : {}),
        })
      );
      kv.catch(() => this.#buckets.delete(full));
      this.#buckets.set(full, kv);
    }
    return kv;
  }

  /**
   * Publishes to a stream, retrying with the same message id until the
   * server confirms, so that a retry after a lost reply is no duplicate.
   */
  publish(subject: string, data: Uint8Array, msgID: string): Promise<PubAck> {
    return retrying(() =>
      this.js.publish(subject, data, { msgID, timeout: 5000 })
    );
  }

  /** Closes the connection after what it sent reached the server. */
  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}

let guardingResets = false;

/**
 * Keeps a socket reset the NATS transport no longer listens for from ending
 * the program. The transport removes every listener of its socket when it
 * closes it (a server that refused the credentials or went away), and Deno's
 * `node:net` may still emit that socket's `read ECONNRESET` afterwards: with
 * no listener it would be an uncaught error, though the transport has already
 * seen the close and fails the connect or reconnects. Installed once, with
 * the first connection, and it drops nothing else.
 */
function guardOrphanResets(): void {
  if (guardingResets) return;
  guardingResets = true;
  globalThis.addEventListener("error", (event) => {
    const error = event.error as
      | { code?: unknown; syscall?: unknown; stack?: unknown }
      | null;
    if (
      error?.code === "ECONNRESET" && error.syscall === "read" &&
      String(error.stack).includes("onStreamRead")
    ) {
      event.preventDefault();
    }
  });
}

/** Whether the client failed because the server refused who it is. */
function refusedCredentials(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const { name, message, cause } = e as {
      name?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (
      /authoriz|authent|auth_required|AUTHORIZATION/i.test(`${name} ${message}`)
    ) {
      return true;
    }
    e = cause;
  }
  return false;
}

/** Whether an error of the client is worth a retry (a timeout, no responders while a leader is elected). */
function transient(error: unknown): boolean {
  let text = "";
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const { name, message, code, cause } = e as {
      name?: unknown;
      message?: unknown;
      code?: unknown;
      cause?: unknown;
    };
    text += ` ${name} ${message} ${code}`;
    e = cause;
  }
  return /timeout|no responders|503|CONNECTION|disconnect|reconnect|leader|unavailable|insufficient resources/i
    .test(text);
}

/** Runs `fn` again after transient errors, for up to 60 s. */
export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  let pause = 50;
  while (true) {
    try {
      return await fn();
    } catch (error) {
      if (!transient(error) || Date.now() > deadline) throw error;
      await sleep(pause);
      pause = Math.min(pause * 2, 1000);
    }
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A value as bytes (V8's structured serialization: Maps, Dates, typed arrays, bigints). */
export function encode(value: unknown): Uint8Array {
  const buffer = serialize(value);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Bytes from {@linkcode encode} as a value. */
export function decode<T = unknown>(bytes: Uint8Array): T {
  return deserialize(bytes) as T;
}

/** An error as data that {@linkcode encode} keeps whole. */
export function errorOut(error: unknown): ErrorData {
  return errorToData(error);
}

/** The error that {@linkcode errorOut} turned into data. */
export function errorIn(data: ErrorData): Error {
  return dataToError(data);
}

/** A unique id. */
export function newId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}
