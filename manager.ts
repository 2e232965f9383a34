// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * A client of a Python `multiprocessing.managers.BaseManager` server: what
 * Python's `BaseManager.connect()` and its proxies do, so that a Deno
 * program can use the objects a Python manager shares (a `queue.Queue`, a
 * dict, an object of the Python program's own registered type).
 *
 * ```ts ignore
 * import { BaseManager } from "@mp/multiprocessing/manager";
 *
 * // Python: QueueManager.register("get_queue", callable=lambda: queue)
 * //         QueueManager(address=("127.0.0.1", 50000), authkey=b"abracadabra")
 * const manager = new BaseManager({
 *   address: { hostname: "127.0.0.1", port: 50000 },
 *   authkey: "abracadabra",
 * });
 * await manager.connect();
 * await using queue = await manager.create("get_queue");
 * await queue.call("put", ["hello from Deno"]);
 * console.log(await queue.call("get"));
 * ```
 *
 * How it works: as in CPython, each request to the server (`create`,
 * `decref`) is a new authenticated connection carrying one pickled
 * `(id, method, args, kwargs)` tuple and its `("#RETURN", result)` answer;
 * a shared object's methods go over one connection the object keeps, after
 * `accept_connection`. Values are pickled as by {@linkcode Client}, so only
 * data crosses; a method that returns a proxy (`method_to_typeid`) is not
 * supported.
 *
 * @module
 */
import {
  type Address,
  Client,
  type SocketConnection,
  tuple,
} from "./connection.ts";
import { Empty, Full, ProcessError } from "./errors.ts";

/** Options of {@linkcode BaseManager}. */
export interface BaseManagerOptions {
  /** The server's `{ hostname, port }` or Unix socket path. */
  address: Address;
  /** The server's authkey (bytes, or a string taken as UTF-8). */
  authkey?: Uint8Array | string;
  /** Milliseconds the server may stall mid-message (see `Client`). */
  timeout?: number;
}

/** Keyword arguments of a Python call. */
export type Kwargs = Record<string, unknown>;

/** Turns a server's answer into its result, or throws its error. */
function resultOf(answer: unknown, what: string): unknown {
  if (!Array.isArray(answer) || answer.length !== 2) {
    throw new ProcessError(
      `The manager answered ${what} with something that is not a (kind, result) pair: is it a Python BaseManager?`,
    );
  }
  const [kind, result] = answer;
  switch (kind) {
    case "#RETURN":
      return result;
    case "#ERROR":
      throw errorOf(result);
    case "#TRACEBACK":
    case "#UNSERIALIZABLE":
      throw new ProcessError(
        `The manager failed on ${what}:\n${String(result).trimEnd()}`,
      );
    case "#PROXY":
      throw new TypeError(
        `The manager answered ${what} with a proxy (method_to_typeid), which this client does not support: expose a method that returns data`,
      );
    default:
      throw new ProcessError(
        `The manager answered ${what} with an unknown kind ${
          JSON.stringify(kind)
        }`,
      );
  }
}

/** The error a shared object's method raised, as this library's when one fits. */
function errorOf(result: unknown): Error {
  if (!(result instanceof Error)) {
    return new ProcessError(`The manager raised ${String(result)}`);
  }
  if (result.name === "Empty") return new Empty(result.message || "Empty");
  if (result.name === "Full") return new Full(result.message || "Full");
  return result;
}

/**
 * A connection to a Python `BaseManager` server (Python's
 * `BaseManager(address, authkey)` followed by `connect()`).
 *
 * @example Against a server that is not there
 * ```ts
 * import { BaseManager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * const manager = new BaseManager({
 *   address: { hostname: "127.0.0.1", port: 1 },
 *   authkey: "key",
 * });
 * await assert.rejects(manager.connect(), /Cannot connect/);
 * ```
 */
export class BaseManager {
  #options: BaseManagerOptions;

  /**
   * Makes a client of the server at `options.address`; nothing connects
   * before {@linkcode BaseManager.connect}.
   *
   * @param options The server's address and authkey.
   *
   * @example Made, not connected
   * ```ts
   * import { BaseManager } from "@mp/multiprocessing/manager";
   *
   * const manager = new BaseManager({ address: "/tmp/no-such-manager.sock" });
   * console.log(manager.address); // "/tmp/no-such-manager.sock"
   * ```
   */
  constructor(options: BaseManagerOptions) {
    this.#options = { ...options };
  }

  /**
   * The server's address.
   *
   * @example The address given
   * ```ts
   * import { BaseManager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * const address = { hostname: "127.0.0.1", port: 50000 };
   * assert.deepEqual(new BaseManager({ address }).address, address);
   * ```
   */
  get address(): Address {
    return this.#options.address;
  }

  /**
   * Checks that the server answers and accepts the key (Python's
   * `connect()`, which sends it a `dummy` request).
   *
   * @returns A promise that resolves once the server answered.
   * @throws {AuthenticationError} When the keys differ.
   * @throws {ProcessError} When no server answers there.
   *
   * @example See {@linkcode BaseManager}.
   * ```ts ignore
   * await manager.connect();
   * ```
   */
  async connect(): Promise<void> {
    await this.#request("dummy", []);
  }

  /**
   * Makes a new shared object of a registered `typeid` on the server, as
   * calling `manager.typeid(*args)` does in Python, and returns a handle to
   * it.
   *
   * @param typeid The name the server registered (`get_queue`, ...).
   * @param args Arguments of the registered callable.
   * @param kwargs Its keyword arguments.
   * @returns The handle; release it (or `await using`) when done, so the
   * server can let go of the object.
   * @throws {ProcessError} When the server has no such typeid.
   *
   * @example See {@linkcode BaseManager}.
   * ```ts ignore
   * await using queue = await manager.create("get_queue");
   * ```
   */
  async create(
    typeid: string,
    args: unknown[] = [],
    kwargs: Kwargs = {},
  ): Promise<SharedObject> {
    const created = await this.#request("create", [typeid, ...args], kwargs);
    if (!Array.isArray(created) || typeof created[0] !== "string") {
      throw new ProcessError(
        `The manager answered create(${
          JSON.stringify(typeid)
        }) with no object id: is it a Python BaseManager?`,
      );
    }
    const [id, exposed] = created as [string, string[]];
    const conn = await this.#connect();
    try {
      await conn.send(
        tuple(null, "accept_connection", tuple("MainThread"), {}),
      );
      resultOf(await conn.recv(), "accept_connection");
    } catch (error) {
      conn.close();
      await this.#request("decref", [id]).catch(() => {});
      throw error;
    }
    return makeShared(
      id,
      typeid,
      [...exposed],
      conn,
      () => this.#request("decref", [id]),
    );
  }

  #connect(): Promise<SocketConnection> {
    return Client(this.#options.address, {
      authkey: this.#options.authkey,
      timeout: this.#options.timeout,
    });
  }

  /** One request to the server, on a connection of its own. */
  async #request(
    method: string,
    args: unknown[],
    kwargs: Kwargs = {},
  ): Promise<unknown> {
    await using conn = await this.#connect();
    await conn.send(tuple(null, method, tuple(...args), kwargs));
    return resultOf(await conn.recv(), `${method}()`);
  }
}

let makeShared: (
  id: string,
  typeid: string,
  exposed: string[],
  conn: SocketConnection,
  release: () => Promise<unknown>,
) => SharedObject;

/**
 * A handle to an object a Python manager holds (Python's `BaseProxy`):
 * {@linkcode SharedObject.call} runs one of its exposed methods there and
 * returns a copy of the result.
 *
 * @example See {@linkcode BaseManager}.
 * ```ts ignore
 * await queue.call("put", [1]);
 * console.log(await queue.call("qsize")); // 1
 * ```
 */
export class SharedObject implements AsyncDisposable {
  #id: string;
  #typeid: string;
  #exposed: string[];
  #conn: SocketConnection | undefined;
  #release: () => Promise<unknown>;
  #calls: Promise<unknown> = Promise.resolve();

  static {
    makeShared = (id, typeid, exposed, conn, release) =>
      new SharedObject(id, typeid, exposed, conn, release);
  }

  private constructor(
    id: string,
    typeid: string,
    exposed: string[],
    conn: SocketConnection,
    release: () => Promise<unknown>,
  ) {
    this.#id = id;
    this.#typeid = typeid;
    this.#exposed = exposed;
    this.#conn = conn;
    this.#release = release;
  }

  /**
   * The methods the server lets this handle call.
   *
   * @example See {@linkcode BaseManager}.
   * ```ts ignore
   * console.log(queue.exposed); // ["empty", "full", "get", ...]
   * ```
   */
  get exposed(): readonly string[] {
    return this.#exposed;
  }

  /**
   * Calls `method` of the shared object on the server (Python's
   * `_callmethod`). Calls run one after another, in the order made.
   *
   * @param method One of {@linkcode SharedObject.exposed}.
   * @param args Its arguments.
   * @param kwargs Its keyword arguments.
   * @returns What it returned.
   * @throws {Empty} When it raised `queue.Empty`; {@linkcode Full} for
   * `queue.Full`; a builtin exception as an `Error` of that name.
   * @throws {TypeError} When `method` is not exposed.
   * @throws {ProcessError} When the handle was released, or the server
   * failed otherwise.
   *
   * @example See {@linkcode BaseManager}.
   * ```ts ignore
   * await queue.call("get", [], { timeout: 0.1 });
   * ```
   */
  call(
    method: string,
    args: unknown[] = [],
    kwargs: Kwargs = {},
  ): Promise<unknown> {
    const conn = this.#conn;
    if (!conn) {
      return Promise.reject(
        new ProcessError(
          `Cannot call ${method}(): this ${this.#typeid} handle was released`,
        ),
      );
    }
    if (!this.#exposed.includes(method)) {
      return Promise.reject(
        new TypeError(
          `The ${this.#typeid} object does not expose ${method}(): call one of ${
            this.#exposed.join(", ")
          }`,
        ),
      );
    }
    const run = this.#calls.then(async () => {
      await conn.send(tuple(this.#id, method, tuple(...args), kwargs));
      return resultOf(await conn.recv(), `${method}()`);
    });
    this.#calls = run.catch(() => {});
    return run;
  }

  /**
   * Lets the server drop the object (when no other handle holds it) and
   * closes this handle's connection. Releasing twice does nothing.
   *
   * @returns A promise that resolves once the server was told.
   *
   * @example See {@linkcode BaseManager}.
   * ```ts ignore
   * await queue.release();
   * ```
   */
  async release(): Promise<void> {
    const conn = this.#conn;
    if (!conn) return;
    this.#conn = undefined;
    await this.#calls;
    conn.close();
    await this.#release();
  }

  /**
   * Releases the handle when an `await using` block ends.
   *
   * @example See {@linkcode BaseManager}.
   * ```ts ignore
   * await using queue = await manager.create("get_queue");
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
