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
 * `incref`, `decref`) is a pickled `(id, method, args, kwargs)` tuple and
 * its `("#RETURN", result)` answer, on an authenticated connection of its
 * own; a shared object's methods go over one connection the handle keeps,
 * after `accept_connection`. Values are pickled as by {@linkcode Client},
 * so only data crosses, and handles: a handle in a message pickles as
 * Python's `RebuildProxy(...)`, and a proxy in an answer (a method
 * registered with `method_to_typeid`, a list stored in a dict) becomes a
 * handle here. Each handle holds one reference, given back when it is
 * closed or garbage collected; a {@linkcode Manager}'s handles send theirs
 * over one connection per process, which the server takes as given back
 * when it closes, so a process that ends (even killed) leaks none. In the
 * process that runs a Manager's server, each thread's handles (the thread
 * that started it, and every Worker child's) send their calls and
 * references through a channel of that thread's in shared memory instead
 * (see `_manager/local.ts`), given back once the thread ends.
 *
 * @module
 */
import {
  type Address,
  Client,
  type SocketConnection,
  tuple,
} from "./connection.ts";
import { asProxyRef, ProxyRef, Token } from "./_pickle/pickle.ts";
import { pythonAddress } from "./_manager/server.ts";
import { Door, type DoorForm } from "./_manager/local.ts";
import { Empty, Full, ProcessError } from "./errors.ts";
import { ownAuthkey } from "./_net/handshake.ts";
import {
  callerModule,
  internalModule,
  resolveTarget,
  type TargetRole,
  type TargetSpec,
} from "./_target.ts";
import { setWorkerRef } from "./_deno_compat.ts";
import { childTreeState, identity } from "./_shm/registry.ts";
import {
  crossesProcesses,
  encode,
  registerKind,
  toWire,
  type WireContext,
  wireContext,
  type WireForm,
} from "./_wire.ts";

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
    case "#PROXY": {
      // A method that returns a shared object (method_to_typeid): the
      // server made it with one reference, which the new handle takes.
      const [exposed, token] = (result ?? []) as [unknown, unknown];
      if (!(token instanceof Token) || !Array.isArray(exposed)) {
        throw new ProcessError(
          `The manager answered ${what} with a proxy that has no (exposed, token) pair`,
        );
      }
      return new ProxyAnswer(token, exposed as string[]);
    }
    default:
      throw new ProcessError(
        `The manager answered ${what} with an unknown kind ${
          JSON.stringify(kind)
        }`,
      );
  }
}

/** A `#PROXY` answer, made into a handle by the handle that asked. */
class ProxyAnswer {
  constructor(readonly token: Token, readonly exposed: string[]) {}
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
   * How many shared objects the server holds (Python's
   * `_number_of_objects()`): with reference counting, those some handle
   * still refers to.
   *
   * @returns The count.
   * @throws {ProcessError} When no server answers there.
   *
   * @example See {@linkcode BaseManager}.
   * ```ts ignore
   * console.log(await manager.numberOfObjects());
   * ```
   */
  async numberOfObjects(): Promise<number> {
    return await this.#request("number_of_objects", []) as number;
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
    return handleFor({
      address: this.#options.address,
      authkey: keyBytes(this.#options.authkey),
      timeout: this.#options.timeout,
      id,
      typeid,
      exposed: [...exposed],
      ours: false,
    }, "adopt");
  }

  /** One request to the server, on a connection of its own. */
  #request(
    method: string,
    args: unknown[],
    kwargs: Kwargs = {},
  ): Promise<unknown> {
    return request(
      {
        address: this.#options.address,
        authkey: keyBytes(this.#options.authkey),
        timeout: this.#options.timeout,
      },
      method,
      args,
      kwargs,
    );
  }
}

function keyBytes(
  authkey: Uint8Array | string | undefined,
): Uint8Array | undefined {
  return typeof authkey === "string"
    ? new TextEncoder().encode(authkey)
    : authkey;
}

/** Where a server is and the key it wants. */
interface ServerState {
  address: Address;
  authkey: Uint8Array | undefined;
  timeout: number | undefined;
}

/** What a handle needs to reach its object, in any process. */
interface HandleState extends ServerState {
  id: string;
  typeid: string;
  /** The methods it may call; unknown (asked at first use) when a proxy came without them. */
  exposed: string[] | undefined;
  /**
   * Whether the server is a {@linkcode Manager}'s: its references then go
   * over this process's connection for them (this thread's channel, in the
   * server's process), which gives them back when the process (thread)
   * ends, however it ends.
   */
  ours: boolean;
  /** The Python proxy class it pickles as (`multiprocessing.managers.DictProxy`). */
  proxyType?: string;
}

/** How a new handle gets its reference to the object. */
type Reference =
  /** It takes one the server counted for it already (create, `#PROXY`). */
  | "adopt"
  /** It asks the server for one (a handle rebuilt in another process). */
  | "incref";

const KIND = "multiprocessing.SharedObject";

/** What the server serves for every object (CPython's fallbacks). */
const EVERY_OBJECT = new Set(["#GETVALUE", "__str__", "__repr__"]);

/** Python's proxy class of each type a Manager serves. */
const PYTHON_PROXIES: Record<string, string> = {
  dict: "DictProxy",
  list: "ListProxy",
  Namespace: "NamespaceProxy",
  Value: "ValueProxy",
  Lock: "AcquirerProxy",
  Event: "EventProxy",
  Iterator: "IteratorProxy",
};

/** What a collected handle gives back (it must not hold the handle). */
interface Leftover {
  state: HandleState;
  conn: { current?: Promise<SocketConnection> };
}

/** Gives back the reference of a handle that was never closed. */
const collected = new FinalizationRegistry<Leftover>(({ state, conn }) => {
  conn.current?.then((c) => c.close(), () => {});
  giveBack(state).catch(() => {});
});

/**
 * A handle to an object a manager holds (Python's `BaseProxy`):
 * {@linkcode SharedObject.call} runs one of its exposed methods there and
 * returns a copy of the result. A handle of a {@linkcode Manager} may be
 * passed to a child in `Process` `args` (either backend), inside a message,
 * or to a pool task, or stored in another shared object: it reconnects
 * there.
 *
 * Each handle holds one reference to its object, as CPython's proxies do:
 * the server drops the object once every handle to it was closed, garbage
 * collected, or (for a {@linkcode Manager}'s) its process ended.
 *
 * @example A method by its Python name
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const d = await manager.dict();
 * await d.call("__setitem__", ["k", 1]);
 * assert.equal(await d.call("get", ["k"]), 1);
 * ```
 */
export class SharedObject implements AsyncDisposable {
  #state: HandleState;
  #conn: { current?: Promise<SocketConnection> } = {};
  #released = false;
  #calls: Promise<unknown>;
  /** Its server's key in {@linkcode doors}, once known. */
  #serverKey: string | undefined;

  /**
   * Handles come from {@linkcode Manager} and {@linkcode BaseManager}.
   *
   * @ignore
   */
  constructor(state: unknown, reference: Reference = "incref") {
    this.#state = { ...(state as HandleState) };
    // The first call waits for the reference (and the method names).
    this.#calls = reference === "incref" ? this.#takeReference() : (
      this.#state.exposed ? Promise.resolve() : this.#askExposed()
    );
    this.#calls.catch(() => {});
    collected.register(this, { state: this.#state, conn: this.#conn }, this);
  }

  async #takeReference(): Promise<void> {
    await referenceRequest(this.#state, "incref", [this.#state.id]);
    if (!this.#state.exposed) await this.#askExposed();
  }

  async #askExposed(): Promise<void> {
    const { typeid, address, id } = this.#state;
    const names = await request(this.#state, "get_methods", [
      new Token(typeid, pythonAddress(address), id),
    ]);
    this.#state.exposed = [...names as string[]];
  }

  /**
   * The methods the server lets this handle call (empty until known, for
   * a handle that came without them: after its first call).
   *
   * @example A dict's methods
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * await manager.start();
   * const d = await manager.dict();
   * assert(d.exposed.includes("__getitem__"));
   * ```
   */
  get exposed(): readonly string[] {
    return this.#state.exposed ?? [];
  }

  /**
   * The name of the type on the server (`dict`, `list`, or a registered
   * typeid).
   *
   * @example A list
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * await manager.start();
   * assert.equal((await manager.list()).typeid, "list");
   * ```
   */
  get typeid(): string {
    return this.#state.typeid;
  }

  /**
   * Calls `method` of the shared object on the server (Python's
   * `_callmethod`). Calls through one handle run one after another, in the
   * order made. A result that is, or holds, a shared object (a method
   * registered with `methodToTypeid`, a list stored in a dict) comes back as
   * a handle to it, which holds a reference of its own: close it when done.
   *
   * @param method One of {@linkcode SharedObject.exposed}.
   * @param args Its arguments.
   * @param kwargs Its keyword arguments.
   * @returns What it returned.
   * @throws {Empty} When it raised `queue.Empty`; {@linkcode Full} for
   * `queue.Full`; a builtin exception as an `Error` of that name.
   * @throws {TypeError} When `method` is not exposed.
   * @throws {ProcessError} When the handle was closed, or the server
   * failed otherwise.
   *
   * @example A queue's get with a timeout (seconds, as in Python)
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import { Empty } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * await manager.start();
   * const queue = await manager.Queue();
   * await assert.rejects(queue.call("get", [], { timeout: 0.01 }), Empty);
   * ```
   */
  call(
    method: string,
    args: unknown[] = [],
    kwargs: Kwargs = {},
  ): Promise<unknown> {
    if (this.#released) {
      return Promise.reject(
        new ProcessError(
          `Cannot call ${method}(): this ${this.#state.typeid} handle was closed`,
        ),
      );
    }
    const run = this.#calls.then(async () => {
      const { typeid, exposed, id } = this.#state;
      // A copy of the whole object and its repr are served for every one.
      if (!exposed!.includes(method) && !EVERY_OBJECT.has(method)) {
        throw new TypeError(
          `The ${typeid} object does not expose ${method}(): call one of ${
            exposed!.join(", ")
          }`,
        );
      }
      const request = tuple(id, method, tuple(...args), kwargs);
      // In the process of the server, through shared memory.
      const door = this.#state.ours
        ? doors.get(this.#serverKey ??= serverKey(this.#state))
        : undefined;
      const answer = door
        ? await door.channel().call(request)
        : await this.#callOverSocket(request);
      return this.#handlesIn(resultOf(answer, `${method}()`));
    });
    this.#calls = run.catch(() => {});
    return run;
  }

  /** Sends a request on this handle's connection; its answer. */
  async #callOverSocket(request: unknown[]): Promise<unknown> {
    const conn = await (this.#conn.current ??= this.#connect());
    // The read is under way while the request is written: one turn of
    // the event loop less per call.
    const [, answer] = await Promise.all([conn.send(request), conn.recv()]);
    return answer;
  }

  /** A result with its proxies made into handles of this process. */
  #handlesIn(result: unknown): unknown {
    if (result instanceof ProxyAnswer) {
      const { token, exposed } = result;
      return handleFor({
        ...this.#state,
        id: token.id,
        typeid: token.typeid,
        exposed: [...exposed],
        proxyType: undefined,
      }, "adopt");
    }
    return handlesIn(result, this.#state);
  }

  /** The connection of this handle in this process (`accept_connection`). */
  async #connect(): Promise<SocketConnection> {
    const conn = await connectTo(this.#state);
    try {
      await conn.send(
        tuple(null, "accept_connection", tuple("MainThread"), {}),
      );
      resultOf(await conn.recv(), "accept_connection");
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  }

  /**
   * Closes this handle's connection and gives back its reference, so that
   * the server drops the object once no handle refers to it. Releasing
   * twice does nothing.
   *
   * @returns A promise that resolves once done.
   *
   * @example Closed
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * await manager.start();
   * const list = await manager.list();
   * await list.close();
   * await assert.rejects(list.length(), /closed/);
   * ```
   */
  async close(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    collected.unregister(this);
    const referenced = await this.#calls.then(() => true, () => false);
    const conn = this.#conn.current;
    this.#conn.current = undefined;
    if (conn) (await conn.catch(() => undefined))?.close();
    // A handle whose incref failed holds no reference to give back.
    if (referenced) await giveBack(this.#state).catch(() => {});
  }

  /**
   * Closes the handle when an `await using` block ends.
   *
   * @example Closed at the end of the scope
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   *
   * await using manager = new Manager();
   * await manager.start();
   * {
   *   await using d = await manager.dict();
   *   await d.set("a", 1);
   * }
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * `true`: a handle works in any process, so it crosses as itself.
   *
   * @ignore
   */
  get [crossesProcesses](): boolean {
    return true;
  }

  /**
   * The handle's wire form: the object's address, key and id, and for a
   * Worker of this process a door to the server when this thread has one.
   * The handle rebuilt from it takes a reference of its own.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    const state: WireState = { ...this.#state };
    if (this.#state.ours && ctx.backend === "worker" && !ctx.exporter) {
      state.door = doorFor(ctx, serverKey(this.#state));
    }
    return { kind: KIND, module: import.meta.url, state };
  }

  /**
   * The handle as Python pickles a proxy, for a pickled message (a value
   * stored in a shared dict, a message to a Python program).
   *
   * @ignore
   */
  [asProxyRef](): ProxyRef {
    const { typeid, address, id, exposed, proxyType } = this.#state;
    const known = PYTHON_PROXIES[typeid];
    return new ProxyRef(
      proxyType ?? `multiprocessing.managers.${known ?? "AutoProxy"}`,
      new Token(typeid, pythonAddress(address), id),
      { exposed: tuple(...exposed ?? []) },
    );
  }
}

registerKind(KIND, (state) => {
  const { door, ...handle } = state as WireState;
  if (door) adoptDoor(serverKey(handle), door);
  return handleFor(handle, "incref");
});

/** A handle's wire form: its state, and a door for a Worker of this process. */
interface WireState extends HandleState {
  door?: DoorForm;
}

/** The doors passed on in one encoding, by server: one port per server. */
const doorsPassed = new WeakMap<WireContext, Map<string, DoorForm>>();

/**
 * The door to the server of `key` that a value encoded with `ctx` takes
 * along, when this thread has a door open to that server.
 */
function doorFor(ctx: WireContext, key: string): DoorForm | undefined {
  const door = doors.get(key);
  if (!door || door.closed) return undefined;
  let passed = doorsPassed.get(ctx);
  if (!passed) doorsPassed.set(ctx, passed = new Map());
  let form = passed.get(key);
  if (!form) passed.set(key, form = door.passOn(ctx.transfer));
  return form;
}

/**
 * Keeps a door that came with a handle, unless this thread has one open to
 * that server already.
 */
function adoptDoor(key: string, form: DoorForm): void {
  const known = doors.get(key);
  if (known && !known.closed) {
    form.port.close();
    return;
  }
  known?.close();
  doors.set(key, new Door(form));
}

/** `value` with each proxy it holds made a handle (reached as `via` was). */
function handlesIn(
  value: unknown,
  via: ServerState & { ours: boolean },
): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (value instanceof ProxyRef) return handleOfProxy(value, via);
  if (value instanceof Uint8Array || value instanceof Error) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === "object" && item !== null) {
        const made = handlesIn(item, via);
        if (made !== item) {
          if (Object.isFrozen(value)) {
            return tuple(...value.map((v) => handlesIn(v, via)));
          }
          value[i] = made;
        }
      }
    }
    return value;
  }
  if (value instanceof Map) {
    for (const [k, v] of value) value.set(k, handlesIn(v, via));
    return value;
  }
  if (value instanceof Set) return value;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "object" && v !== null) {
      (value as Record<string, unknown>)[k] = handlesIn(v, via);
    }
  }
  return value;
}

/** A handle of a pickled proxy; it takes a reference of its own. */
function handleOfProxy(
  ref: ProxyRef,
  via: ServerState & { ours: boolean },
): SharedObject {
  const { token, kwds, proxyType } = ref;
  const address = addressOf(token.address) ?? via.address;
  const exposed = kwds.exposed;
  return handleFor({
    address,
    authkey: via.authkey,
    timeout: via.timeout,
    id: token.id,
    typeid: token.typeid,
    exposed: Array.isArray(exposed) ? [...exposed as string[]] : undefined,
    ours: via.ours && sameServer(address, via.address),
    proxyType,
  }, "incref");
}

/** A Python address (a path, or `(host, port)`) as an {@linkcode Address}. */
function addressOf(address: unknown): Address | undefined {
  if (typeof address === "string") return address;
  if (
    Array.isArray(address) && typeof address[0] === "string" &&
    typeof address[1] === "number"
  ) return { hostname: address[0], port: address[1] };
  return undefined;
}

function sameServer(a: Address, b: Address): boolean {
  return typeof a === "string" || typeof b === "string"
    ? a === b
    : a.port === b.port;
}

function connectTo(state: ServerState): Promise<SocketConnection> {
  return Client(state.address, {
    authkey: state.authkey,
    timeout: state.timeout,
  });
}

/** One request to the server, on a connection of its own (as CPython's). */
async function request(
  state: ServerState,
  method: string,
  args: unknown[],
  kwargs: Kwargs = {},
): Promise<unknown> {
  await using conn = await connectTo(state);
  await conn.send(tuple(null, method, tuple(...args), kwargs));
  return resultOf(await conn.recv(), `${method}()`);
}

/**
 * This process's connection to one Manager's server for its references
 * (`create`, `incref`, `decref`): the server gives back what it still
 * holds when the connection closes, so a process that ends (killed too)
 * leaks none.
 */
class References {
  #conn: Promise<SocketConnection>;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(state: ServerState) {
    this.#conn = (async () => {
      const conn = await connectTo(state);
      try {
        await conn.send(
          tuple(null, "accept_references", tuple(), {}),
        );
        resultOf(await conn.recv(), "accept_references");
      } catch (error) {
        conn.close();
        throw error;
      }
      return conn;
    })();
  }

  request(method: string, args: unknown[], kwargs: Kwargs): Promise<unknown> {
    const run = this.#queue.then(async () => {
      const conn = await this.#conn;
      await conn.send(tuple(null, method, tuple(...args), kwargs));
      return resultOf(await conn.recv(), `${method}()`);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.#queue;
    (await this.#conn.catch(() => undefined))?.close();
  }
}

const referencesByServer = new Map<string, References>();

function serverKey({ address, authkey }: ServerState): string {
  return `${JSON.stringify(address)} ${authkey?.join(",") ?? ""}`;
}

/** `create`, `incref` or `decref`, over the connection it belongs to. */
function referenceRequest(
  state: ServerState & { ours: boolean },
  method: string,
  args: unknown[],
  kwargs: Kwargs = {},
): Promise<unknown> {
  if (!state.ours) return request(state, method, args, kwargs);
  const key = serverKey(state);
  if (stoppedServers.has(key)) {
    return Promise.reject(
      new ProcessError(`Cannot ${method}: the manager was shut down`),
    );
  }
  const door = doors.get(key);
  if (door) {
    return door.channel().call(tuple(null, method, tuple(...args), kwargs))
      .then((answer) => resultOf(answer, `${method}()`));
  }
  let references = referencesByServer.get(key);
  if (!references) {
    referencesByServer.set(key, references = new References(state));
  }
  const made = references;
  return made.request(method, args, kwargs).catch((error) => {
    // A broken connection is made anew for the next request.
    if (referencesByServer.get(key) === made) referencesByServer.delete(key);
    throw error;
  });
}

/**
 * This thread's doors to the servers of Managers of this process, by
 * {@linkcode serverKey}: the handles here call through shared memory, not a
 * socket, and their references go that way too.
 */
const doors = new Map<string, Door>();

/**
 * Servers this process stopped: a handle to one that is garbage collected
 * later has no reference left to give back.
 */
const stoppedServers = new Set<string>();

/** Closes this process's reference connection to a server that stops. */
async function forgetServer(state: ServerState): Promise<void> {
  const key = serverKey(state);
  stoppedServers.add(key);
  const references = referencesByServer.get(key);
  referencesByServer.delete(key);
  await references?.close();
}

function giveBack(state: HandleState): Promise<unknown> {
  return referenceRequest(state, "decref", [state.id]);
}

/**
 * A dict a {@linkcode Manager} holds (Python's `DictProxy`), with a `Map`'s
 * method names.
 *
 * @typeParam K The type of the keys.
 * @typeParam V The type of the values.
 *
 * @example Set and get
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const d = await manager.dict<string, number>();
 * await d.set("a", 1);
 * assert.equal(await d.get("a"), 1);
 * assert.equal(await d.size(), 1);
 * assert.deepEqual(await d.copy(), { a: 1 });
 * ```
 */
export class DictProxy<K = unknown, V = unknown> extends SharedObject {
  /**
   * The value of `key`, or `undefined` when it is missing (a stored
   * `null`, Python's None, reads as `undefined` too).
   *
   * @param key The key.
   * @returns The value.
   */
  async get(key: K): Promise<V | undefined> {
    return (await this.call("get", [key]) ?? undefined) as V | undefined;
  }
  /**
   * Sets `key` to `value`.
   *
   * @param key The key.
   * @param value The value.
   * @returns A promise that resolves once set.
   */
  async set(key: K, value: V): Promise<void> {
    await this.call("__setitem__", [key, value]);
  }
  /**
   * Whether `key` is there.
   *
   * @param key The key.
   * @returns `true` when it is.
   */
  async has(key: K): Promise<boolean> {
    return await this.call("__contains__", [key]) as boolean;
  }
  /**
   * Removes `key`.
   *
   * @param key The key.
   * @returns Whether it was there.
   */
  async delete(key: K): Promise<boolean> {
    try {
      await this.call("__delitem__", [key]);
      return true;
    } catch (error) {
      if ((error as Error).name === "KeyError") return false;
      throw error;
    }
  }
  /**
   * The number of entries.
   *
   * @returns The size.
   */
  async size(): Promise<number> {
    return await this.call("__len__") as number;
  }
  /**
   * The keys.
   *
   * @returns A copy of the keys.
   */
  async keys(): Promise<K[]> {
    return await this.call("keys") as K[];
  }
  /**
   * The values.
   *
   * @returns A copy of the values.
   */
  async values(): Promise<V[]> {
    return await this.call("values") as V[];
  }
  /**
   * The entries, as `[key, value]` pairs.
   *
   * @returns A copy of the entries.
   */
  async entries(): Promise<[K, V][]> {
    const items = await this.call("items") as [K, V][];
    return items.map(([k, v]) => [k, v]);
  }
  /**
   * Sets every entry of `entries` (Python's `update`).
   *
   * @param entries A plain object or a `Map`.
   * @returns A promise that resolves once set.
   */
  async update(entries: Record<string, V> | Map<K, V>): Promise<void> {
    await this.call("update", [entries]);
  }
  /**
   * Removes every entry.
   *
   * @returns A promise that resolves once cleared.
   */
  async clear(): Promise<void> {
    await this.call("clear");
  }
  /**
   * A copy of the whole dict: a plain object when every key is a string,
   * else a `Map`.
   *
   * @returns The copy.
   */
  async copy(): Promise<Record<string, V> | Map<K, V>> {
    return await this.call("copy") as Record<string, V> | Map<K, V>;
  }
}

/**
 * A list a {@linkcode Manager} holds (Python's `ListProxy`).
 *
 * @typeParam T The type of the items.
 *
 * @example Append and read
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const list = await manager.list<number>([1]);
 * await list.append(2);
 * assert.equal(await list.length(), 2);
 * assert.equal(await list.at(-1), 2);
 * assert.deepEqual(await list.toArray(), [1, 2]);
 * ```
 */
export class ListProxy<T = unknown> extends SharedObject {
  /**
   * Adds `item` at the end.
   *
   * @param item The item.
   * @returns A promise that resolves once added.
   */
  async append(item: T): Promise<void> {
    await this.call("append", [item]);
  }
  /**
   * Adds `items` at the end.
   *
   * @param items The items.
   * @returns A promise that resolves once added.
   */
  async extend(items: T[]): Promise<void> {
    await this.call("extend", [items]);
  }
  /**
   * The item at `index` (negative counts from the end).
   *
   * @param index The index.
   * @returns The item.
   * @throws {Error} An `IndexError` when out of range.
   */
  async at(index: number): Promise<T> {
    return await this.call("__getitem__", [index]) as T;
  }
  /**
   * Sets the item at `index`.
   *
   * @param index The index.
   * @param item The item.
   * @returns A promise that resolves once set.
   */
  async set(index: number, item: T): Promise<void> {
    await this.call("__setitem__", [index, item]);
  }
  /**
   * Removes and returns the item at `index` (default the last).
   *
   * @param index The index.
   * @returns The item.
   */
  async pop(index = -1): Promise<T> {
    return await this.call("pop", [index]) as T;
  }
  /**
   * The number of items.
   *
   * @returns The length.
   */
  async length(): Promise<number> {
    return await this.call("__len__") as number;
  }
  /**
   * A copy of the whole list.
   *
   * @returns The items.
   */
  async toArray(): Promise<T[]> {
    return await this.call("#GETVALUE") as T[];
  }

  /**
   * Iterates over the items on the server, one round trip each (Python's
   * `iter(list_proxy)`).
   *
   * @example Each item
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * await manager.start();
   * const list = await manager.list(["a", "b"]);
   * const seen = [];
   * for await (const item of list) seen.push(item);
   * assert.deepEqual(seen, ["a", "b"]);
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    await using iterator = await this.call("__iter__") as SharedObject;
    for (;;) {
      try {
        yield await iterator.call("__next__") as T;
      } catch (error) {
        if ((error as Error).name === "StopIteration") return;
        throw error;
      }
    }
  }
}

/**
 * A `Namespace` a {@linkcode Manager} holds: named attributes.
 *
 * @example Attributes
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const ns = await manager.Namespace({ x: 1 });
 * await ns.set("y", "two");
 * assert.equal(await ns.get("x"), 1);
 * assert.equal(await ns.get("y"), "two");
 * ```
 */
export class NamespaceProxy extends SharedObject {
  /**
   * The attribute `name`.
   *
   * @param name Its name.
   * @returns Its value.
   * @throws {Error} An `AttributeError` when there is none.
   */
  async get(name: string): Promise<unknown> {
    return await this.call("__getattribute__", [name]);
  }
  /**
   * Sets the attribute `name`.
   *
   * @param name Its name.
   * @param value Its value.
   * @returns A promise that resolves once set.
   */
  async set(name: string, value: unknown): Promise<void> {
    await this.call("__setattr__", [name, value]);
  }
}

/**
 * A value a {@linkcode Manager} holds (Python's `ValueProxy`).
 *
 * @typeParam T The type of the value.
 *
 * @example Get and set
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const v = await manager.Value("i", 1);
 * await v.set(2);
 * assert.equal(await v.get(), 2);
 * ```
 */
export class ValueProxy<T = unknown> extends SharedObject {
  /**
   * The value.
   *
   * @returns It.
   */
  async get(): Promise<T> {
    return await this.call("get") as T;
  }
  /**
   * Sets the value.
   *
   * @param value The new value.
   * @returns A promise that resolves once set.
   */
  async set(value: T): Promise<void> {
    await this.call("set", [value]);
  }
}

/**
 * A queue a {@linkcode Manager} holds (a Python `queue.Queue`).
 *
 * @typeParam T The type of the items.
 *
 * @example Put and get
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const queue = await manager.Queue<string>();
 * await queue.put("job");
 * assert.equal(await queue.get(), "job");
 * ```
 */
export class QueueProxy<T = unknown> extends SharedObject {
  /**
   * Puts `item`, waiting for room in a bounded queue.
   *
   * @param item The item.
   * @param options `timeout` in milliseconds.
   * @returns A promise that resolves once put.
   * @throws {Full} When no room came in time.
   */
  async put(item: T, options: { timeout?: number } = {}): Promise<void> {
    await this.call("put", [item, true, seconds(options.timeout)]);
  }
  /**
   * Takes the next item, waiting for one.
   *
   * @param options `timeout` in milliseconds.
   * @returns The item.
   * @throws {Empty} When none came in time.
   */
  async get(options: { timeout?: number } = {}): Promise<T> {
    return await this.call("get", [true, seconds(options.timeout)]) as T;
  }
  /**
   * The number of items waiting.
   *
   * @returns The count.
   */
  async qsize(): Promise<number> {
    return await this.call("qsize") as number;
  }
}

/**
 * A lock a {@linkcode Manager} holds (Python's `AcquirerProxy` of a
 * `threading.Lock`).
 *
 * @example Acquire and release
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const lock = await manager.Lock();
 * assert.equal(await lock.acquire(), true);
 * assert.equal(await lock.acquire({ timeout: 10 }), false);
 * await lock.release();
 * ```
 */
export class LockProxy extends SharedObject {
  /**
   * Acquires the lock, waiting for it.
   *
   * @param options `timeout` in milliseconds.
   * @returns Whether it was acquired.
   */
  async acquire(options: { timeout?: number } = {}): Promise<boolean> {
    const timeout = seconds(options.timeout);
    return await this.call("acquire", [true, timeout ?? -1]) as boolean;
  }
  /**
   * Releases the lock.
   *
   * @returns A promise that resolves once released.
   */
  async release(): Promise<void> {
    await this.call("release");
  }
}

/**
 * An event a {@linkcode Manager} holds (Python's `EventProxy`).
 *
 * @example Set, then wait
 * ```ts
 * import { Manager } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const event = await manager.Event();
 * await event.set();
 * assert.equal(await event.wait(), true);
 * ```
 */
export class EventProxy extends SharedObject {
  /**
   * Sets the flag and wakes every waiter.
   *
   * @returns A promise that resolves once set.
   */
  async set(): Promise<void> {
    await this.call("set");
  }
  /**
   * Whether the flag is set.
   *
   * @returns The flag.
   */
  async isSet(): Promise<boolean> {
    return await this.call("is_set") as boolean;
  }
  /**
   * Waits until the flag is set. The calls through one handle run in
   * order, so the `set()` that ends this wait comes through another handle
   * (in another process, or on another `Event` handle passed there).
   *
   * @param timeout Milliseconds (default forever).
   * @returns The flag.
   */
  async wait(timeout?: number): Promise<boolean> {
    return await this.call("wait", [seconds(timeout)]) as boolean;
  }
}

/** Python's seconds from milliseconds; `undefined` stays None. */
function seconds(ms: number | undefined): number | null {
  return ms === undefined ? null : ms / 1000;
}

type HandleClass = new (state: unknown, reference: Reference) => SharedObject;

/** The handle class of each type a Manager serves. */
const PROXIES: Record<string, HandleClass> = {
  dict: DictProxy,
  list: ListProxy,
  Namespace: NamespaceProxy,
  Value: ValueProxy,
  Queue: QueueProxy,
  Lock: LockProxy,
  Event: EventProxy,
};

/** The handle class of each of Python's proxy classes. */
const PYTHON_CLASSES: Record<string, HandleClass> = {
  DictProxy,
  ListProxy,
  NamespaceProxy,
  ValueProxy,
  AcquirerProxy: LockProxy,
  EventProxy,
};

function handleFor(state: HandleState, reference: Reference): SharedObject {
  const pythonClass = state.proxyType?.split(".").at(-1) ?? "";
  const Class = state.ours
    ? PROXIES[state.typeid]
    : PYTHON_CLASSES[pythonClass];
  return new (Class ?? SharedObject)(state, reference);
}

internalModule(import.meta.url);

const FACTORY: TargetRole = {
  noun: "a registered factory",
  importer: "the manager's server",
  option: "factory",
};

const INITIALIZER: TargetRole = {
  noun: "the manager's initializer",
  importer: "the manager's server",
  option: "initializer",
};

/** Options of {@linkcode Manager.register} (Python's `register` arguments). */
export interface RegisterOptions {
  /**
   * The methods handles may call (default: those whose names do not start
   * with `_`).
   */
  exposed?: string[];
  /**
   * Methods whose result the server keeps as a new shared object of the
   * given typeid, answering with a handle to it (Python's
   * `method_to_typeid`). `"Iterator"` serves an iterator's `__next__`.
   */
  methodToTypeid?: Record<string, string>;
}

/** A registered type, as the server gets it. */
interface Registered {
  factory: TargetSpec | null;
  exposed?: string[];
  methodToTypeid?: Record<string, string>;
}

/** Options of {@linkcode Manager}. */
export interface ManagerOptions {
  /**
   * Where the server listens: a Unix socket path or `{ hostname, port }`
   * (default: a Unix socket in a new temporary folder).
   */
  address?: Address;
  /**
   * The key clients must hold (default: this process tree's authkey, which
   * children inherit).
   */
  authkey?: Uint8Array | string;
}

/**
 * A server of shared objects (Python's `multiprocessing.Manager()`): a
 * dict, a list, a `Namespace`, a `Value`, a `Queue`, a `Lock`, an `Event`,
 * held by a server in a Worker of this process and used through handles that
 * can be passed to children of either backend. It speaks CPython's manager
 * protocol, so a Python program holding the address and key can use the
 * objects too (`BaseManager.register("get_dict")` aside: create objects
 * from this side and pass their ids).
 *
 * @example A dict shared with a child
 * ```ts
 * import { Manager, type DictProxy } from "@mp/multiprocessing/manager";
 * import assert from "node:assert/strict";
 *
 * await using manager = new Manager();
 * await manager.start();
 * const scores = await manager.dict<string, number>();
 * await scores.set("ada", 3);
 * assert.equal(await scores.get("ada"), 3);
 * ```
 */
export class Manager implements AsyncDisposable {
  #options: ManagerOptions;
  #worker: Worker | undefined;
  #address: Address | undefined;
  #authkey: Uint8Array;
  #folder: string | undefined;
  #registry: Record<string, Registered> = {};

  /**
   * Makes a manager; {@linkcode Manager.start} starts its server.
   *
   * @param options Its address and key.
   *
   * @example Not started yet
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * const manager = new Manager();
   * await assert.rejects(manager.dict(), /start\(\)/);
   * ```
   */
  constructor(options: ManagerOptions = {}) {
    this.#options = options;
    this.#authkey = keyBytes(options.authkey) ?? ownAuthkey();
  }

  /**
   * Where the server listens, once started.
   *
   * @example A Unix socket by default
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * await manager.start();
   * assert.equal(typeof manager.address, "string");
   * ```
   */
  get address(): Address | undefined {
    return this.#address;
  }

  /**
   * Starts the server. With an `initializer`, the server first runs
   * `initializer(...initArgs)` and serves once it has returned (Python's
   * `start(initializer, initargs)`).
   *
   * @param initializer An exported function, or `{ module, export }`: the
   * server (in a Worker) imports it.
   * @param initArgs Its arguments: data, and this library's objects
   * (handles of another manager, a `Lock`, ...).
   * @returns A promise that resolves once it listens.
   * @throws {TypeError} When `initializer` is not an exported function or
   * `{ module, export }`.
   * @throws {ProcessError} When it was started already, cannot listen, or
   * its initializer failed.
   *
   * @example An initializer that counts in another manager's namespace
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * // In your module: export async function init(ns) { ... }
   * const source = "export async function init(ns) {" +
   *   " await ns.set('started', await ns.get('started') + 1); }";
   * const module = `data:text/javascript,${encodeURIComponent(source)}`;
   * await using first = new Manager();
   * await first.start();
   * const ns = await first.Namespace({ started: 0 });
   * await using second = new Manager();
   * await second.start({ module, export: "init" }, [ns]);
   * assert.equal(await ns.get("started"), 1);
   * ```
   */
  async start(
    initializer?:
      | ((...args: never[]) => unknown)
      | { module: string | URL; export: string },
    initArgs: unknown[] = [],
  ): Promise<void> {
    if (this.#worker) {
      throw new ProcessError("Cannot start() the manager twice");
    }
    const init = initializer === undefined
      ? undefined
      : resolveTarget(initializer, INITIALIZER, callerModule);
    const initContext = wireContext();
    const encodedArgs = encode([...initArgs], initContext);
    let address = this.#options.address;
    if (address === undefined) {
      this.#folder = await Deno.makeTempDir({ prefix: "mp_manager_" });
      address = `${this.#folder}/manager.sock`;
    }
    const worker = new Worker(
      new URL("./_manager/server_worker.ts", import.meta.url),
      { type: "module" },
    );
    this.#worker = worker;
    const { door, server } = Door.open();
    const reply = new Promise<{ address?: Address; error?: string }>(
      (resolve, reject) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.onerror = (event) => {
          event.preventDefault();
          const error = new ProcessError(
            `The manager's server failed: ${event.message}`,
          );
          reject(error);
          // Its sockets end with it; the calls through memory end here.
          door.shut(error);
        };
      },
    );
    worker.postMessage({
      address,
      authkey: this.#authkey,
      registry: this.#registry,
      door: server,
      tree: childTreeState(identity()),
      initializer: init,
      initArgs: encodedArgs,
    }, [...initContext.transfer, server.port]);
    const { address: listening, error } = await reply;
    if (error !== undefined) {
      door.shut();
      await this.shutdown();
      throw new ProcessError(`The manager cannot ${error}`);
    }
    this.#address = listening;
    const key = serverKey({
      address: listening!,
      authkey: this.#authkey,
      timeout: 0,
    });
    stoppedServers.delete(key);
    doors.get(key)?.close();
    doors.set(key, door);
    // The server does not keep this process alive.
    setWorkerRef(worker, false);
  }

  async #create<P extends SharedObject>(
    typeid: string,
    args: unknown[],
    kwargs: Kwargs = {},
  ): Promise<P> {
    const address = this.#address;
    if (address === undefined) {
      throw new ProcessError(
        `Cannot make a ${typeid}: the manager is not started; call start() first`,
      );
    }
    const state = {
      address,
      authkey: this.#authkey,
      timeout: undefined,
      ours: true,
    };
    const [id, exposed] = await referenceRequest(
      state,
      "create",
      [typeid, ...args],
      kwargs,
    ) as [string, string[]];
    return handleFor(
      { ...state, id, typeid, exposed: [...exposed] },
      "adopt",
    ) as P;
  }

  /**
   * Registers a type of your own (Python's `BaseManager.register`): the
   * server makes an object with `factory(...args)` for each
   * {@linkcode Manager.create} of `typeid`, and the object's methods whose
   * names do not start with `_` are exposed (or those `options.exposed`
   * names). A factory that returns an iterator (a generator) serves
   * Python's `__next__`.
   *
   * @param typeid The name of the type.
   * @param factory An exported function, or `{ module, export }`: the
   * server (in a Worker) imports it. `null` for a type whose objects only
   * come from methods (`options.methodToTypeid` of another type), as
   * Python's `callable=None`.
   * @param options Which methods are exposed, and which return shared
   * objects.
   * @throws {ProcessError} When the manager was started already.
   * @throws {TypeError} When `factory` is not exported.
   *
   * @example A counter of your own
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * // In your module: export function makeCounter() { ... }
   * const source = "export function makeCounter(start) {" +
   *   " let n = start; return { add(k) { n += k; return n; } }; }";
   * const module = `data:text/javascript,${encodeURIComponent(source)}`;
   * await using manager = new Manager();
   * manager.register("Counter", { module, export: "makeCounter" });
   * await manager.start();
   * const counter = await manager.create("Counter", [10]);
   * assert.equal(await counter.call("add", [5]), 15);
   * ```
   *
   * @example A method that returns a shared object
   * ```ts
   * import { Manager, type SharedObject } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * const source = "export function makeShelf() { const books = [];" +
   *   " return { add(t) { books.push(t); }, reader() { return books.values(); } }; }";
   * const module = `data:text/javascript,${encodeURIComponent(source)}`;
   * await using manager = new Manager();
   * manager.register("Shelf", { module, export: "makeShelf" }, {
   *   methodToTypeid: { reader: "Iterator" },
   * });
   * await manager.start();
   * const shelf = await manager.create("Shelf");
   * await shelf.call("add", ["Dune"]);
   * await using reader = await shelf.call("reader") as SharedObject;
   * assert.equal(await reader.call("__next__"), "Dune");
   * await assert.rejects(reader.call("__next__"), { name: "StopIteration" });
   * ```
   */
  register(
    typeid: string,
    factory:
      | ((...args: never[]) => unknown)
      | { module: string | URL; export: string }
      | null,
    options: RegisterOptions = {},
  ): void {
    if (this.#worker) {
      throw new ProcessError(
        `Cannot register ${typeid} on a started manager: register() before start()`,
      );
    }
    this.#registry[typeid] = {
      factory: factory === null
        ? null
        : resolveTarget(factory, FACTORY, callerModule),
      exposed: options.exposed && [...options.exposed],
      methodToTypeid: options.methodToTypeid && { ...options.methodToTypeid },
    };
  }

  /**
   * How many shared objects the server holds (Python's
   * `_number_of_objects()`): those some handle still refers to. An object
   * is dropped once every handle to it was closed, garbage collected or
   * ended with its process; one a handle to which was stored in another
   * shared object is kept by the server for that handle (not counted
   * here then, as in CPython).
   *
   * @returns The count.
   * @throws {ProcessError} When the manager is not started.
   *
   * @example Closing the last handle drops the object
   * ```ts
   * import { Manager } from "@mp/multiprocessing/manager";
   * import assert from "node:assert/strict";
   *
   * await using manager = new Manager();
   * await manager.start();
   * const d = await manager.dict();
   * assert.equal(await manager.numberOfObjects(), 1);
   * await d.close();
   * assert.equal(await manager.numberOfObjects(), 0);
   * ```
   */
  async numberOfObjects(): Promise<number> {
    const address = this.#address;
    if (address === undefined) {
      throw new ProcessError(
        "Cannot count the objects: the manager is not started; call start() first",
      );
    }
    return await referenceRequest(
      { address, authkey: this.#authkey, timeout: undefined, ours: true },
      "number_of_objects",
      [],
    ) as number;
  }

  /**
   * A new object of a type registered with {@linkcode Manager.register}.
   *
   * @param typeid The name it was registered under.
   * @param args The factory's arguments.
   * @returns Its handle: call its methods with
   * {@linkcode SharedObject.call}.
   * @throws {ProcessError} When no such type was registered.
   *
   * @example See {@linkcode Manager.register}.
   * ```ts ignore
   * const counter = await manager.create("Counter", [10]);
   * ```
   */
  create(typeid: string, args: unknown[] = []): Promise<SharedObject> {
    return this.#create(typeid, args);
  }

  /**
   * A new shared dict.
   *
   * @typeParam K The type of the keys.
   * @typeParam V The type of the values.
   * @param entries Its first entries.
   * @returns Its handle.
   *
   * @example See {@linkcode DictProxy}.
   * ```ts ignore
   * const d = await manager.dict({ a: 1 });
   * ```
   */
  dict<K = unknown, V = unknown>(
    entries?: Record<string, V> | Map<K, V>,
  ): Promise<DictProxy<K, V>> {
    return this.#create("dict", entries === undefined ? [] : [entries]);
  }

  /**
   * A new shared list.
   *
   * @typeParam T The type of the items.
   * @param items Its first items.
   * @returns Its handle.
   *
   * @example See {@linkcode ListProxy}.
   * ```ts ignore
   * const list = await manager.list([1, 2]);
   * ```
   */
  list<T = unknown>(items: T[] = []): Promise<ListProxy<T>> {
    return this.#create("list", [items]);
  }

  /**
   * A new shared namespace.
   *
   * @param attributes Its first attributes.
   * @returns Its handle.
   *
   * @example See {@linkcode NamespaceProxy}.
   * ```ts ignore
   * const ns = await manager.Namespace({ x: 1 });
   * ```
   */
  Namespace(attributes: Record<string, unknown> = {}): Promise<NamespaceProxy> {
    return this.#create("Namespace", [], attributes);
  }

  /**
   * A new shared value.
   *
   * @typeParam T The type of the value.
   * @param typecode Python's type code (kept for compatibility).
   * @param value The first value.
   * @returns Its handle.
   *
   * @example See {@linkcode ValueProxy}.
   * ```ts ignore
   * const v = await manager.Value("i", 0);
   * ```
   */
  Value<T = unknown>(typecode: string, value: T): Promise<ValueProxy<T>> {
    return this.#create("Value", [typecode, value]);
  }

  /**
   * A new shared queue.
   *
   * @typeParam T The type of the items.
   * @param maxsize The most items it holds (0: no limit).
   * @returns Its handle.
   *
   * @example See {@linkcode QueueProxy}.
   * ```ts ignore
   * const queue = await manager.Queue();
   * ```
   */
  Queue<T = unknown>(maxsize = 0): Promise<QueueProxy<T>> {
    return this.#create("Queue", [maxsize]);
  }

  /**
   * A new shared lock.
   *
   * @returns Its handle.
   *
   * @example See {@linkcode LockProxy}.
   * ```ts ignore
   * const lock = await manager.Lock();
   * ```
   */
  Lock(): Promise<LockProxy> {
    return this.#create("Lock", []);
  }

  /**
   * A new shared event.
   *
   * @returns Its handle.
   *
   * @example See {@linkcode EventProxy}.
   * ```ts ignore
   * const event = await manager.Event();
   * ```
   */
  Event(): Promise<EventProxy> {
    return this.#create("Event", []);
  }

  /**
   * Stops the server: its objects are gone, and handles fail. Shutting down
   * twice does nothing.
   *
   * @returns A promise that resolves once stopped.
   *
   * @example See {@linkcode Manager}.
   * ```ts ignore
   * await manager.shutdown();
   * ```
   */
  async shutdown(): Promise<void> {
    const address = this.#address;
    if (address !== undefined) {
      const server = { address, authkey: this.#authkey, timeout: 0 };
      doors.get(serverKey(server))?.shut();
      doors.delete(serverKey(server));
      await forgetServer(server);
    }
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#address = undefined;
    // A terminated server does not close its listener: remove its socket.
    if (typeof address === "string" && !this.#folder) {
      await Deno.remove(address).catch(() => {});
    }
    if (this.#folder) {
      await Deno.remove(this.#folder, { recursive: true }).catch(() => {});
      this.#folder = undefined;
    }
  }

  /**
   * Shuts the manager down when an `await using` block ends.
   *
   * @example See {@linkcode Manager}.
   * ```ts ignore
   * await using manager = new Manager();
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
