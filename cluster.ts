// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Beyond one machine: `Pool`, `Process`, `Queue`, `Lock` and friends on a
 * NATS JetStream cluster, with the API of the local ones. Start a NATS server
 * with JetStream (`nats-server -js`), start a node agent on each machine
 * that should do work (`deno run -A jsr:@mp/multiprocessing/cluster/agent
 * --connect nats://host:4222 --namespace demo`), then connect. A server off
 * this machine must ask for a token (or user and password): programs pass it
 * as `token` or in `$MP_CLUSTER_TOKEN`, agents in `$MP_CLUSTER_TOKEN` or a
 * `--token-file`, never on a command line.
 *
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * export function square(x: number): number {
 *   return x * x;
 * }
 *
 * // With a server and agents up, a program calls main(); this example's
 * // test does not (it runs without a server).
 * export async function main(): Promise<void> {
 *   await using cluster = await connectCluster({
 *     servers: "nats://127.0.0.1:4222",
 *     namespace: "demo",
 *   });
 *   await using pool = new cluster.Pool();
 *   console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 * }
 * ```
 *
 * This is the one entry point of the library that has a dependency (the
 * NATS client packages from npm); the rest of the library has none.
 *
 * @module
 */
import { internalModule } from "./_target.ts";
import { type ClusterOptions, Link } from "./_cluster/nats.ts";
import { ClusterPool, type ClusterPoolOptions } from "./_cluster/pool.ts";
import {
  ClusterLock,
  type ClusterLockOptions,
  ClusterRLock,
} from "./_cluster/lock.ts";
import {
  ClusterProcess,
  type ClusterProcessOptions,
} from "./_cluster/process.ts";
import {
  ClusterBarrier,
  ClusterEvent,
  ClusterSemaphore,
  type ClusterSemaphoreOptions,
  ClusterValue,
} from "./_cluster/sync.ts";
import {
  ClusterJoinableQueue,
  ClusterQueue,
  type ClusterQueueOptions,
} from "./_cluster/queue.ts";

internalModule(import.meta.url);

export type { ClusterOptions } from "./_cluster/nats.ts";
export {
  type ClusterApplyOptions,
  type ClusterFunction,
  type ClusterMapOptions,
  ClusterPool,
  type ClusterPoolOptions,
} from "./_cluster/pool.ts";
export {
  type ClusterAcquireOptions,
  ClusterLock,
  type ClusterLockOptions,
  ClusterRLock,
} from "./_cluster/lock.ts";
export {
  ClusterProcess,
  type ClusterProcessOptions,
} from "./_cluster/process.ts";
export {
  ClusterBarrier,
  ClusterEvent,
  ClusterSemaphore,
  type ClusterSemaphoreOptions,
  ClusterValue,
} from "./_cluster/sync.ts";
export {
  type ClusterGetOptions,
  ClusterJoinableQueue,
  type ClusterPutOptions,
  ClusterQueue,
  type ClusterQueueOptions,
} from "./_cluster/queue.ts";

/**
 * A connection to one namespace of a NATS JetStream cluster, holding the
 * cluster's versions of the library's classes. Made by
 * {@linkcode connectCluster}; close it with `await using` or
 * {@linkcode Cluster.close}.
 */
export interface Cluster extends AsyncDisposable {
  /** The namespace: programs and agents of one namespace share its objects. */
  readonly namespace: string;
  /** A pool whose workers are the namespace's node agents. */
  readonly Pool: new (options?: ClusterPoolOptions) => ClusterPool;
  /**
   * A queue of the namespace, by name: every handle of that name, in any
   * program, is the same queue.
   */
  readonly Queue: new <T = unknown>(
    name: string,
    options?: ClusterQueueOptions,
  ) => ClusterQueue<T>;
  /** A queue whose items are acknowledged by `taskDone()`. */
  readonly JoinableQueue: new <T = unknown>(
    name: string,
    options?: ClusterQueueOptions,
  ) => ClusterJoinableQueue<T>;
  /**
   * A lock of the namespace, by name: a lease with a fencing token
   * (`lock.token`), renewed while held.
   */
  readonly Lock: new (
    name: string,
    options?: ClusterLockOptions,
  ) => ClusterLock;
  /** A lock its holding handle may acquire again. */
  readonly RLock: new (
    name: string,
    options?: ClusterLockOptions,
  ) => ClusterRLock;
  /** A child run by one of the namespace's node agents. */
  readonly Process: new <A extends unknown[] = unknown[]>(
    options: ClusterProcessOptions<A>,
  ) => ClusterProcess<A>;
  /** An event of the namespace, by name. */
  readonly Event: new (name: string) => ClusterEvent;
  /** A semaphore of the namespace, by name (no lease: see its docs). */
  readonly Semaphore: new (
    name: string,
    options?: ClusterSemaphoreOptions,
  ) => ClusterSemaphore;
  /** A barrier of the namespace, by name, for `parties` waiters. */
  readonly Barrier: new (
    name: string,
    parties: number,
    options?: { timeout?: number },
  ) => ClusterBarrier;
  /** A value of the namespace, by name, `initial` until first set. */
  readonly Value: new <T = unknown>(
    name: string,
    initial: T,
  ) => ClusterValue<T>;
  /** Closes the connection after what was sent reached the server. */
  close(): Promise<void>;
}

/**
 * Connects to a namespace of a NATS JetStream cluster.
 *
 * Credentials: `token`, or `user` and `pass`, else the token in
 * `$MP_CLUSTER_TOKEN` (which an agent sets for the tasks it runs). A server
 * off this machine is refused without credentials unless
 * `allowUnauthenticated` is true.
 *
 * @param options The servers, the namespace, the replicas of what it creates, the credentials.
 * @returns The cluster's classes, bound to this connection.
 * @throws {ProcessError} For a server off this machine without credentials.
 * @throws {AuthenticationError} When the server refuses the credentials (or their absence).
 * @throws {TypeError} For `user` without `pass` (or the reverse), or an empty token.
 * @throws When no server answers (the client's error).
 *
 * @example Map over the agents of a namespace
 * ```ts
 * import { connectCluster } from "@mp/multiprocessing/cluster";
 *
 * export function double(x: number): number {
 *   return 2 * x;
 * }
 *
 * // Needs a NATS server and node agents (see the README's "Beyond one
 * // machine"), so it is a function this example does not call.
 * export async function doubles(): Promise<number[]> {
 *   await using cluster = await connectCluster({
 *     servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"],
 *     namespace: "demo",
 *     replicas: 3,
 *     token: Deno.env.get("MY_NATS_TOKEN"),
 *   });
 *   await using pool = new cluster.Pool();
 *   return await pool.map(double, [1, 2, 3]); // [2, 4, 6]
 * }
 * ```
 */
export async function connectCluster(
  options: ClusterOptions = {},
): Promise<Cluster> {
  const link = await Link.open(options);
  class Pool extends ClusterPool {
    constructor(options?: ClusterPoolOptions) {
      super(link, options);
    }
  }
  class Queue<T = unknown> extends ClusterQueue<T> {
    constructor(name: string, options?: ClusterQueueOptions) {
      super(link, name, options);
    }
  }
  class JoinableQueue<T = unknown> extends ClusterJoinableQueue<T> {
    constructor(name: string, options?: ClusterQueueOptions) {
      super(link, name, options);
    }
  }
  class Lock extends ClusterLock {
    constructor(name: string, options?: ClusterLockOptions) {
      super(link, name, options);
    }
  }
  class RLock extends ClusterRLock {
    constructor(name: string, options?: ClusterLockOptions) {
      super(link, name, options);
    }
  }
  class Process<A extends unknown[] = unknown[]> extends ClusterProcess<A> {
    constructor(options: ClusterProcessOptions<A>) {
      super(link, options);
    }
  }
  class Event extends ClusterEvent {
    constructor(name: string) {
      super(link, name);
    }
  }
  class Semaphore extends ClusterSemaphore {
    constructor(name: string, options?: ClusterSemaphoreOptions) {
      super(link, name, options);
    }
  }
  class Barrier extends ClusterBarrier {
    constructor(name: string, parties: number, options?: { timeout?: number }) {
      super(link, name, parties, options);
    }
  }
  class Value<T = unknown> extends ClusterValue<T> {
    constructor(name: string, initial: T) {
      super(link, name, initial);
    }
  }
  return {
    namespace: link.namespace,
    Event,
    Semaphore,
    Barrier,
    Value,
    Process,
    Lock,
    RLock,
    Pool,
    Queue,
    JoinableQueue,
    close: () => link.close(),
    [Symbol.asyncDispose]: () => link.close(),
  };
}
