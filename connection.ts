// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Connections between unrelated processes, on this machine or another:
 * Python's `multiprocessing.connection` (`Listener`, `Client`), speaking its
 * wire format, so that either end may be a Python program.
 *
 * ```ts
 * import { Client, Listener } from "@mp/multiprocessing/connection";
 * import assert from "node:assert/strict";
 *
 * const authkey = "secret password";
 * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 }, {
 *   authkey,
 * });
 * const accepted = listener.accept();
 * await using client = await Client(listener.address, { authkey });
 * await using server = await accepted;
 * await client.send({ hello: [1, 2n ** 70n, "world"] });
 * assert.deepEqual(await server.recv(), { hello: [1, 2n ** 70n, "world"] });
 * ```
 *
 * How it works: each message is a 4-byte big-endian length and its bytes
 * (or -1 and an 8-byte length, past 2 GiB), as in CPython. `send` and
 * `recv` carry pickles: the writer and the reader understand data only
 * (None, booleans, numbers, strings, bytes, lists, tuples, dicts, sets and
 * builtin exceptions), never anything that would import or call code, so a
 * peer can send nothing but data. With an `authkey`, a new connection first
 * runs CPython's challenge-response both ways (HMAC-SHA256, or the HMAC-MD5
 * form of Python 3.11 and older when the peer uses it).
 *
 * @module
 */
import {
  type ByteChannel,
  clientHandshake,
  serverHandshake,
} from "./_net/handshake.ts";
import {
  connect as connectSocket,
  listen as listenSocket,
  type Transport,
  type TransportListener,
} from "./_net/socket.ts";
import { dumps, loads } from "./_pickle/pickle.ts";
import { intoTarget, tooShort } from "./_bytes_into.ts";
import { deadlineOf, settlesBy } from "./_timeout.ts";
import {
  AuthenticationError,
  EOFError,
  ProcessError,
  TimeoutError,
} from "./errors.ts";

export { Tuple, tuple } from "./_pickle/pickle.ts";

/**
 * Where a {@linkcode Listener} listens and a {@linkcode Client} connects: a
 * `{ hostname, port }` (TCP) or the path of a Unix socket.
 */
export type Address = string | { hostname: string; port: number };

/**
 * How values are turned into bytes: `"pickle"` (Python's format, the
 * default) or `"structured-clone"` (the `node:v8` format, which carries
 * `Date`s, typed arrays and cycles, for Deno-to-Deno connections).
 */
export type Serializer = "pickle" | "structured-clone";

/** Options of {@linkcode Client}, and of the connections a Listener accepts. */
export interface ConnectionOptions {
  /**
   * The shared secret both ends must hold (bytes, or a string taken as
   * UTF-8). Without one, no authentication takes place, as in Python.
   */
  authkey?: Uint8Array | string;
  /** How values are turned into bytes (default `"pickle"`). */
  serializer?: Serializer;
  /**
   * The longest message accepted, in bytes (default 64 MiB). A longer one
   * closes the connection with an error.
   */
  maxMessageBytes?: number;
  /**
   * Milliseconds a peer may stay silent in the middle of a message or of
   * the handshake (default 30 000); then the connection is closed with a
   * `TimeoutError`. Waiting for the next message has no limit.
   */
  timeout?: number;
}

/** Options of {@linkcode Listener}. */
export interface ListenerOptions extends ConnectionOptions {
  /**
   * Python's `backlog`: accepted for compatibility; Deno sets the length
   * of the operating system's queue of pending connections itself.
   */
  backlog?: number;
  /**
   * Allows a listener on an address other than loopback without an
   * `authkey` (default `false`): anyone who reaches it could then send
   * data to this program.
   */
  allowUnauthenticated?: boolean;
  /**
   * Called with the error of each peer that failed the handshake (a wrong
   * key, garbage, silence): that peer is dropped and `accept()` waits for
   * the next one.
   */
  onReject?: (error: Error) => void;
}

const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT = 30_000;
/** The most a handshake message may be (Python reads at most 256 bytes). */
const HANDSHAKE_MAX = 256;
/** The size of a connection's read buffer. */
const READ_CHUNK = 64 * 1024;
/** Messages up to this length use the 4-byte length. */
const MAX_SHORT = 0x7fffffff;

interface Settings {
  serializer: Serializer;
  maxMessageBytes: number;
  timeout: number;
}

function settingsOf(options: ConnectionOptions): Settings {
  const serializer = options.serializer ?? "pickle";
  if (serializer !== "pickle" && serializer !== "structured-clone") {
    throw new TypeError(
      `Unknown serializer ${
        JSON.stringify(serializer)
      }: use "pickle" or "structured-clone"`,
    );
  }
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1) {
    throw new RangeError(
      `The maxMessageBytes must be a whole number of bytes from 1 up, got ${maxMessageBytes}`,
    );
  }
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  deadlineOf(timeout); // Checks it.
  return { serializer, maxMessageBytes, timeout };
}

function keyOf(
  authkey: Uint8Array | string | undefined,
): Uint8Array | undefined {
  if (authkey === undefined) return undefined;
  if (typeof authkey === "string") return new TextEncoder().encode(authkey);
  if (authkey instanceof Uint8Array) return authkey;
  throw new TypeError(
    "The authkey must be a Uint8Array or a string: pass the secret both ends share",
  );
}

function describeAddress(address: Address): string {
  return typeof address === "string"
    ? address
    : `${address.hostname}:${address.port}`;
}

function checkAddress(address: Address): void {
  if (typeof address === "string") {
    if (address.length === 0) {
      throw new TypeError(
        "The address is an empty path: pass a Unix socket path or { hostname, port }",
      );
    }
    // Python's AF_PIPE: Deno has no Windows named pipes, and elsewhere
    // such a name would make a socket file of that odd name.
    if (address.startsWith("\\\\")) {
      throw new TypeError(
        `The address ${
          JSON.stringify(address)
        } is a Windows named pipe, which Deno cannot listen on or connect to: pass a Unix socket path or { hostname, port }`,
      );
    }
    return;
  }
  if (
    typeof address !== "object" || address === null ||
    typeof address.hostname !== "string" ||
    !Number.isInteger(address.port) || address.port < 0 ||
    address.port > 65535
  ) {
    throw new TypeError(
      `The address must be a Unix socket path or { hostname, port } with a port from 0 to 65535, got ${
        JSON.stringify(address)
      }`,
    );
  }
}

/** Whether a hostname can only be reached from this machine. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\./.test(host) ||
    host === "::ffff:127.0.0.1";
}

type V8 = typeof import("node:v8");
let v8Module: Promise<V8> | undefined;
/** `node:v8`, loaded when a connection first uses the structured clone. */
function v8(): Promise<V8> {
  return v8Module ??= import("node:v8");
}

/** Makes a connection on an open socket, after its handshake. */
let openConnection: (
  conn: Transport,
  settings: Settings,
  authkey: Uint8Array | undefined,
  role: "server" | "client",
) => Promise<SocketConnection<unknown>>;

/**
 * One end of a connection made by a {@linkcode Listener} or a
 * {@linkcode Client}: Python's `multiprocessing.connection.Connection` on a
 * socket, with the API of a `Pipe` end, except that sending is
 * asynchronous (await it) and there is no `recvSync`.
 *
 * @typeParam T The type of the messages.
 *
 * @example Ping and pong
 * ```ts
 * import { Client, Listener } from "@mp/multiprocessing/connection";
 * import assert from "node:assert/strict";
 *
 * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * await using client = await Client<string>(listener.address);
 * await using server = await accepted;
 * await client.send("ping");
 * assert.equal(await server.recv(), "ping");
 * await server.send("pong");
 * assert.equal(await client.recv(), "pong");
 * ```
 */
export class SocketConnection<T = unknown>
  implements AsyncIterable<T>, Disposable, AsyncDisposable {
  #conn: Transport | undefined;
  #settings: Settings;
  #buffer = new Uint8Array(READ_CHUNK);
  #bufferView = new DataView(this.#buffer.buffer);
  #start = 0;
  #end = 0;
  /** The read under way, shared by whoever waits for bytes. */
  #filling: Promise<void> | undefined;
  #eof = false;
  /** Why the connection broke (it is closed then): every call throws it. */
  #broken: Error | undefined;
  /** How many receives wait on the socket: it holds the event loop then. */
  #awaiting = 0;
  /** Whether the socket was unref'd, for a read left waiting. */
  #unreferenced = false;
  /**
   * Receives, and writes, one after another: the last of each, and how
   * many receives are under way or waiting (the first starts at once).
   */
  #receiving: Promise<unknown> = Promise.resolve();
  #receives = 0;
  #sending: Promise<unknown> = Promise.resolve();
  /** How many writes are under way or waiting. */
  #writes = 0;

  static {
    openConnection = async (conn, settings, authkey, role) => {
      const connection = new SocketConnection(conn, settings);
      if (!authkey || authkey.length === 0) return connection;
      try {
        const channel = connection.#handshakeChannel();
        if (role === "server") await serverHandshake(channel, authkey);
        else await clientHandshake(channel, authkey);
      } catch (error) {
        connection.close();
        throw error;
      }
      return connection;
    };
  }

  private constructor(conn: Transport, settings: Settings) {
    this.#conn = conn;
    this.#settings = settings;
  }

  /**
   * Whether this end is closed.
   *
   * @example Closed by close()
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * const client = await Client(listener.address);
   * using _server = await accepted;
   * assert.equal(client.closed, false);
   * client.close();
   * assert.equal(client.closed, true);
   * ```
   */
  get closed(): boolean {
    return this.#conn === undefined;
  }

  /** Always `true`: both ends of a socket receive. */
  get readable(): boolean {
    return true;
  }

  /** Always `true`: both ends of a socket send. */
  get writable(): boolean {
    return true;
  }

  /**
   * Sends a value: pickled (Python's `send`), or structured-cloned with
   * `serializer: "structured-clone"`. Sends go out in the order they were
   * called.
   *
   * @param value The message: `null`, `undefined`, booleans, numbers,
   * bigints, strings, `Uint8Array`s, arrays, tuples ({@linkcode tuple}),
   * plain objects, `Map`s, `Set`s and errors, at any depth.
   * @returns A promise that resolves once the message is written.
   * @throws {TypeError} When the value cannot be pickled; nothing is sent.
   * @throws {ProcessError} When this end is closed or the peer is gone.
   *
   * @example Nested data
   * ```ts
   * import { Client, Listener, tuple } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * await using client = await Client(listener.address);
   * await using server = await accepted;
   * await client.send(new Map([[tuple(1, 2), new Set(["a"])]]));
   * const got = await server.recv() as Map<unknown, Set<string>>;
   * assert.deepEqual([...got.values()], [new Set(["a"])]);
   * ```
   */
  async send(value: T): Promise<void> {
    this.#checkOpen("send");
    if (this.#settings.serializer === "pickle") {
      const framed = dumps(value, 4);
      if (framed.length - 4 <= MAX_SHORT) {
        new DataView(framed.buffer).setInt32(0, framed.length - 4);
        return await this.#write(framed, "send");
      }
      return await this.#writeFrame(framed.subarray(4), "send");
    }
    await this.#writeFrame(this.#clone(value, await v8()), "send");
  }

  #clone(value: unknown, { serialize }: V8): Uint8Array {
    try {
      return serialize(value);
    } catch (error) {
      throw new TypeError(
        `Cannot send this value in the structured-clone format: ${
          (error as Error).message
        }; send data the structured clone copies`,
        { cause: error },
      );
    }
  }

  /**
   * Sends bytes as one message (Python's `send_bytes`).
   *
   * @param bytes The bytes; they are copied before this returns.
   * @param offset Where in `bytes` to start (default 0).
   * @param size How many bytes to send (default: to the end).
   * @returns A promise that resolves once the message is written.
   * @throws {RangeError} When `offset` or `size` fall outside `bytes`.
   * @throws {ProcessError} As {@linkcode SocketConnection.send}.
   *
   * @example A slice of a buffer
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * await using client = await Client(listener.address);
   * await using server = await accepted;
   * await client.sendBytes(new TextEncoder().encode("hello world"), 6, 5);
   * assert.equal(new TextDecoder().decode(await server.recvBytes()), "world");
   * ```
   */
  async sendBytes(
    bytes: ArrayBufferView | ArrayBuffer,
    offset: number = 0,
    size?: number,
  ): Promise<void> {
    this.#checkOpen("sendBytes");
    const view = bytes instanceof ArrayBuffer
      ? new Uint8Array(bytes)
      : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!Number.isInteger(offset) || offset < 0 || offset > view.length) {
      throw new RangeError(
        `The offset must be a whole number from 0 to ${view.length} (the length of the bytes), got ${offset}`,
      );
    }
    const count = size ?? view.length - offset;
    if (!Number.isInteger(count) || count < 0 || offset + count > view.length) {
      throw new RangeError(
        `The size must be a whole number from 0 to ${
          view.length - offset
        } (the bytes after offset), got ${size}`,
      );
    }
    await this.#writeFrame(view.subarray(offset, offset + count), "sendBytes");
  }

  /**
   * Receives the next message and unpickles it (or structured-clones it
   * back, with that serializer).
   *
   * @returns The message.
   * @throws {EOFError} When the peer closed the connection and every
   * message it sent was received.
   * @throws {TypeError} When the message is not a pickle of data (garbage,
   * or a pickle that would run code): it is dropped and the connection
   * stays usable.
   * @throws {ProcessError} When this end is closed, or the connection broke
   * (a message over `maxMessageBytes`, or a bad length).
   * @throws {TimeoutError} When the peer stalled in the middle of a message
   * for longer than `timeout`; the connection is closed.
   *
   * @example The last message, then EOF
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import { EOFError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * const client = await Client(listener.address);
   * await using server = await accepted;
   * await client.send("last words");
   * client.close();
   * assert.equal(await server.recv(), "last words");
   * await assert.rejects(server.recv(), EOFError);
   * ```
   */
  async recv(): Promise<T> {
    this.#checkOpen("recv");
    // Decoded in turn, from the read buffer itself: nothing reads meanwhile.
    const format = this.#settings.serializer === "pickle"
      ? undefined
      : await v8();
    return await this.#inTurn(async () =>
      this.#decode(
        format,
        await this.#readFrame(
          this.#settings.maxMessageBytes,
          Infinity,
          "recv",
          true,
        ),
      )
    );
  }

  #decode(format: V8 | undefined, bytes: Uint8Array): T {
    if (format) {
      try {
        // A copy: typed arrays it makes may view the bytes they came from.
        return format.deserialize(bytes.slice()) as T;
      } catch (error) {
        throw new TypeError(
          `Cannot read the message in the structured-clone format (${
            (error as Error).message
          }): it is dropped; both ends must use the same serializer`,
          { cause: error },
        );
      }
    }
    return loads(bytes) as T;
  }

  /**
   * Receives the next message as bytes (Python's `recv_bytes`).
   *
   * @param maxLength The longest message accepted; a longer one is dropped
   * and raises.
   * @returns The bytes.
   * @throws {RangeError} When the message is longer than `maxLength`.
   * @throws {EOFError} As {@linkcode SocketConnection.recv}.
   * @throws {ProcessError} As {@linkcode SocketConnection.recv}.
   * @throws {TimeoutError} As {@linkcode SocketConnection.recv}.
   *
   * @example Bytes in, bytes out
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * await using client = await Client(listener.address);
   * await using server = await accepted;
   * await client.sendBytes(new Uint8Array([1, 2, 3]));
   * assert.deepEqual(await server.recvBytes(), new Uint8Array([1, 2, 3]));
   * ```
   */
  async recvBytes(maxLength?: number): Promise<Uint8Array> {
    if (maxLength !== undefined && !(maxLength >= 0)) {
      throw new RangeError(
        `The maxLength of recvBytes() must be a number from 0 up, got ${maxLength}`,
      );
    }
    const bytes = await this.#receive("recvBytes");
    if (maxLength !== undefined && bytes.length > maxLength) {
      throw new RangeError(
        `The message of ${bytes.length} bytes is longer than maxLength ${maxLength} and is dropped: pass a larger maxLength, or send shorter messages`,
      );
    }
    return bytes;
  }

  /**
   * Receives the next message as bytes into memory the caller holds
   * (Python's `recv_bytes_into`): its length is read, then its bytes are
   * copied from the connection's read buffer straight into `buffer`, so
   * that a loop receiving into one buffer makes no memory per message. A
   * message sent with `send()` gives its bytes (a pickle, or the
   * structured-clone serialization), as `recvBytes()` does.
   *
   * @param buffer Where to write: an `ArrayBuffer`, a `SharedArrayBuffer`,
   * or any view of one (a typed array of any element size, a `DataView`).
   * @param offset Where in `buffer` to start, in bytes (default 0): a
   * whole number from 0 to its length in bytes.
   * @returns The length of the message in bytes.
   * @throws {TypeError} When `buffer` is none of those.
   * @throws {RangeError} When `offset` is out of range. Bad arguments throw
   * before anything is read.
   * @throws {BufferTooShort} When the message is longer than the room from
   * `offset` to the end of `buffer`: it is read all the same, and is on
   * the error (`bytes`); the next receive gets the next message.
   * @throws {EOFError} As {@linkcode SocketConnection.recv}.
   * @throws {ProcessError} As {@linkcode SocketConnection.recv}.
   * @throws {TimeoutError} As {@linkcode SocketConnection.recv}.
   *
   * @example One buffer for every message
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import { BufferTooShort } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * await using client = await Client(listener.address);
   * await using server = await accepted;
   * await client.sendBytes(new Uint8Array([1, 2, 3]));
   * await client.sendBytes(new Uint8Array(10));
   * const buffer = new Uint8Array(8);
   * assert.equal(await server.recvBytesInto(buffer, 4), 3);
   * assert.deepEqual(buffer, new Uint8Array([0, 0, 0, 0, 1, 2, 3, 0]));
   * await assert.rejects(server.recvBytesInto(buffer), BufferTooShort);
   * ```
   */
  async recvBytesInto(
    buffer: ArrayBufferLike | ArrayBufferView,
    offset?: number,
  ): Promise<number> {
    const method = "recvBytesInto";
    const target = intoTarget(buffer, offset, method);
    this.#checkOpen(method);
    return await this.#inTurn(async () => {
      const size = await this.#readLength(
        this.#settings.maxMessageBytes,
        Infinity,
        method,
      );
      if (size > target.length) {
        // Read whole, into memory of its own (it goes on the error), so
        // that the next receive starts at the next message.
        const bytes = new Uint8Array(size);
        await this.#readBody(bytes, method);
        throw tooShort(bytes, target.length);
      }
      await this.#readBody(target.subarray(0, size), method);
      return size;
    });
  }

  /**
   * Whether {@linkcode SocketConnection.recv} would find data without
   * waiting: bytes of a message have arrived, or (as in Python) the peer
   * closed so that `recv()` would raise `EOFError` at once.
   *
   * @param timeout Milliseconds to wait for that; with no argument 0 (just
   * look), and an explicit `undefined` waits forever, as Python's `None`.
   * @returns `true` when data (or EOF) is waiting, `false` on timeout.
   * @throws {RangeError} When `timeout` is negative or not a number.
   * @throws {ProcessError} When this end is closed.
   *
   * @example Look, then wait a while
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * await using client = await Client(listener.address);
   * await using server = await accepted;
   * assert.equal(await server.poll(), false);
   * await client.send("ping");
   * assert.equal(await server.poll(1000), true);
   * ```
   */
  poll(timeout?: number): Promise<boolean> {
    // As in Python, no argument means 0 and an explicit `undefined` forever.
    const deadline = deadlineOf(arguments.length === 0 ? 0 : timeout);
    this.#checkOpen("poll");
    return this.#inTurn(async () => {
      if (this.#end > this.#start || this.#eof) return true;
      this.#checkOpen("poll");
      return await this.#more(deadline, "poll");
    });
  }

  /**
   * Closes this end; the peer's receives then end with `EOFError`. Closing
   * twice does nothing.
   *
   * @example A closed end cannot send
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * const client = await Client(listener.address);
   * using _server = await accepted;
   * client.close();
   * await assert.rejects(client.send(1), /closed/);
   * ```
   */
  close(): void {
    const conn = this.#conn;
    if (!conn) return;
    this.#conn = undefined;
    try {
      conn.close();
    } catch {
      // Already closed by the runtime.
    }
  }

  /**
   * Closes this end when a `using` block ends.
   *
   * @example Closed at the end of the scope
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * {
   *   using _client = await Client(listener.address);
   * }
   * using server = await accepted;
   * assert.equal(await server.poll(1000), true); // EOF is waiting
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Waits for the sends under way to be written, then closes this end, when
   * an `await using` block ends.
   *
   * @example Sent, then closed
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * {
   *   await using client = await Client(listener.address);
   *   client.send("bye"); // not awaited: written before the close
   * }
   * await using server = await accepted;
   * assert.equal(await server.recv(), "bye");
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#sending.catch(() => {});
    this.close();
  }

  /**
   * Receives messages until the peer closes the connection.
   *
   * @example Read until the writer is closed
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const accepted = listener.accept();
   * const client = await Client<number>(listener.address);
   * await using server = await accepted;
   * for (const n of [1, 2, 3]) await client.send(n);
   * client.close();
   * const got = [];
   * for await (const n of server) got.push(n);
   * assert.deepEqual(got, [1, 2, 3]);
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      try {
        yield await this.recv();
      } catch (error) {
        if (error instanceof EOFError) return;
        throw error;
      }
    }
  }

  #checkOpen(method: string): Transport {
    if (this.#broken) throw this.#broken;
    if (!this.#conn) {
      throw new ProcessError(
        `Cannot ${method}(): the connection is closed; close() it only once done with it`,
      );
    }
    return this.#conn;
  }

  /** Closes the connection for good, because of `error`; returns it. */
  #break(error: Error): Error {
    this.#broken ??= error;
    this.close();
    return error;
  }

  // ---------------------------------------------------------- writing

  /** Writes one frame, after the frames before it. */
  #writeFrame(payload: Uint8Array, method: string): Promise<void> {
    this.#checkOpen(method);
    const long = payload.length > MAX_SHORT;
    const header = long ? 12 : 4;
    const frame = new Uint8Array(header + payload.length);
    const view = new DataView(frame.buffer);
    if (long) {
      view.setInt32(0, -1);
      view.setBigUint64(4, BigInt(payload.length));
    } else view.setInt32(0, payload.length);
    frame.set(payload, header);
    return this.#write(frame, method);
  }

  /** Writes a whole frame, after the frames before it. */
  #write(frame: Uint8Array, method: string): Promise<void> {
    const conn = this.#checkOpen(method);
    // The first write goes out at once; later ones wait for it.
    const write = this.#writes++ === 0
      ? conn.write(frame)
      : this.#sending.then(() => conn.write(frame));
    const written = write.then(() => {
      this.#writes--;
    }, (error) => {
      this.#writes--;
      throw this.#broken ?? this.#sendError(error);
    });
    this.#sending = written.catch(() => {});
    return written;
  }

  #sendError(error: unknown): Error {
    if (!this.#conn) {
      return new ProcessError(
        "Cannot send: the connection was closed while the message was being written",
        { cause: error },
      );
    }
    return this.#break(
      new ProcessError(
        `Cannot send: the peer closed the connection (${
          (error as Error).name
        }); it no longer receives`,
        { cause: error },
      ),
    );
  }

  // ---------------------------------------------------------- reading

  /** Runs `task` after the receives before it. */
  #inTurn<R>(task: () => Promise<R>): Promise<R> {
    const run = this.#receives++ === 0 ? task() : this.#receiving.then(task);
    const done = () => {
      this.#receives--;
    };
    this.#receiving = run.then(done, done);
    return run;
  }

  /** The next message's bytes. */
  #receive(method: string): Promise<Uint8Array> {
    this.#checkOpen(method);
    return this.#inTurn(() =>
      this.#readFrame(this.#settings.maxMessageBytes, Infinity, method)
    );
  }

  /** A channel for the handshake: short messages, each in `timeout`. */
  #handshakeChannel(): ByteChannel {
    return {
      sendBytes: (bytes) => this.#writeFrame(bytes, "handshake"),
      recvBytes: () =>
        this.#inTurn(() =>
          this.#readFrame(HANDSHAKE_MAX, this.#settings.timeout, "handshake")
        ),
    };
  }

  /**
   * Reads one frame of at most `limit` bytes. The first byte may take
   * `firstWait` ms; each later one at most the stall timeout.
   */
  async #readFrame(
    limit: number,
    firstWait: number,
    method: string,
    borrow = false,
  ): Promise<Uint8Array> {
    const size = await this.#readLength(limit, firstWait, method);
    if (borrow && this.#end - this.#start >= size) {
      // A view of the read buffer, valid until the next read.
      this.#start += size;
      return this.#buffer.subarray(this.#start - size, this.#start);
    }
    const payload = new Uint8Array(size);
    await this.#readBody(payload, method);
    return payload;
  }

  /**
   * Reads the length of the next frame, of at most `limit` bytes; the
   * first byte may take `firstWait` ms.
   *
   * @throws {EOFError} At the end, between frames.
   */
  async #readLength(
    limit: number,
    firstWait: number,
    method: string,
  ): Promise<number> {
    this.#checkOpen(method);
    // A length already read costs no wait (nor a turn of the microtasks).
    if (
      this.#end - this.#start < 4 &&
      !await this.#need(4, firstWait, true, method)
    ) {
      throw new EOFError(
        "The peer closed the connection and every message it sent was received: stop receiving (a for await loop stops by itself)",
      );
    }
    let size = this.#view().getInt32(this.#start);
    this.#start += 4;
    if (size === -1) {
      await this.#need(8, this.#settings.timeout, false, method);
      const long = this.#view().getBigUint64(this.#start);
      this.#start += 8;
      if (long > BigInt(limit)) throw this.#tooLong(long, limit, method);
      size = Number(long);
    } else if (size < 0) {
      const Kind = method === "handshake" ? AuthenticationError : ProcessError;
      throw this.#break(
        new Kind(
          `The peer sent a bad message length (${size}): it does not speak this protocol, and the connection is closed`,
        ),
      );
    }
    if (size > limit) throw this.#tooLong(size, limit, method);
    return size;
  }

  /**
   * Reads the body of the frame whose length was just read into `into`,
   * which is as long: from the read buffer, as it fills, each later byte
   * within the stall timeout.
   */
  async #readBody(into: Uint8Array, method: string): Promise<void> {
    const size = into.length;
    let at = 0;
    for (;;) {
      const part = Math.min(size - at, this.#end - this.#start);
      into.set(this.#buffer.subarray(this.#start, this.#start + part), at);
      this.#start += part;
      at += part;
      if (at === size) return;
      await this.#need(1, this.#settings.timeout, false, method);
    }
  }

  #tooLong(size: number | bigint, limit: number, method: string): Error {
    // A peer that babbles in the handshake fails to authenticate.
    const Kind = method === "handshake" ? AuthenticationError : ProcessError;
    return this.#break(
      new Kind(
        method === "handshake"
          ? `The peer sent a message of ${size} bytes in the handshake, where at most ${limit} are expected: it does not speak this protocol, and the connection is closed`
          : `The peer sent a message of ${size} bytes, more than maxMessageBytes (${limit}): the connection is closed; raise maxMessageBytes on both ends to send such messages`,
      ),
    );
  }

  #view(): DataView {
    if (this.#bufferView.buffer !== this.#buffer.buffer) {
      this.#bufferView = new DataView(this.#buffer.buffer);
    }
    return this.#bufferView;
  }

  /**
   * Waits until `count` bytes are in the buffer. Returns `false` at EOF
   * before any byte when `mayEnd`; EOF elsewhere breaks the connection.
   */
  async #need(
    count: number,
    wait: number,
    mayEnd: boolean,
    method: string,
  ): Promise<boolean> {
    let first = true;
    while (this.#end - this.#start < count) {
      if (this.#eof) {
        if (mayEnd && this.#end === this.#start) return false;
        throw new EOFError(
          "The peer closed the connection in the middle of a message: it was lost",
        );
      }
      const deadline = deadlineOf(first ? wait : this.#settings.timeout);
      if (!await this.#more(deadline, method)) {
        const ms = first ? wait : this.#settings.timeout;
        throw this.#break(
          new TimeoutError(
            `The peer sent no data for ${ms} ms ${
              method === "handshake"
                ? "during the handshake"
                : "in the middle of a message"
            }: the connection is closed; raise the timeout option for slow peers`,
          ),
        );
      }
      if (this.#end - this.#start > 0) first = false;
    }
    return true;
  }

  /**
   * Waits for more bytes (or EOF) until `deadline`; `false` when it
   * passed. The read stays under way then, for the next receive.
   */
  async #more(deadline: number, method: string): Promise<boolean> {
    const conn = this.#checkOpen(method);
    // How long the read may wait before it parks (an FFI socket's brief
    // wait asks the kernel that long at most); a look (poll(0)) does not.
    const filling = this.#filling ??= this.#fill(
      conn,
      deadline - performance.now(),
    );
    // ref() and unref() cost a few microseconds each: a socket is ref'd
    // and stays so, except while a read is left waiting with nobody to
    // take it (a poll that timed out).
    if (this.#unreferenced) {
      conn.ref();
      this.#unreferenced = false;
    }
    this.#awaiting++;
    try {
      if (deadline === Infinity) {
        await filling;
        return true;
      }
      return await settlesBy(filling, deadline);
    } finally {
      // A read nobody waits for must not keep the process alive.
      if (--this.#awaiting === 0 && this.#readPending() && this.#conn) {
        conn.unref();
        this.#unreferenced = true;
      }
    }
  }

  /** Whether a read is under way (it ends by clearing `#filling`). */
  #readPending(): boolean {
    return this.#filling !== undefined;
  }

  async #fill(conn: Transport, waitMs: number): Promise<void> {
    try {
      if (this.#start === this.#end) this.#start = this.#end = 0;
      if (this.#buffer.length - this.#end < READ_CHUNK / 4) {
        // Move what is left to the front, growing when it is most of it.
        const left = this.#buffer.subarray(this.#start, this.#end);
        const size = Math.max(this.#buffer.length, left.length + READ_CHUNK);
        const moved = size > this.#buffer.length
          ? new Uint8Array(size)
          : this.#buffer;
        moved.set(left, 0);
        this.#buffer = moved;
        this.#end = left.length;
        this.#start = 0;
      }
      let n: number | null;
      try {
        n = await conn.read(this.#buffer.subarray(this.#end), waitMs);
      } catch (error) {
        if (this.#broken) throw this.#broken;
        if (!this.#conn) {
          throw new ProcessError(
            "The connection was closed while a receive waited on it",
            { cause: error },
          );
        }
        // A reset by the peer is its end, as Python reports it.
        n = null;
      }
      if (n === null) this.#eof = true;
      else this.#end += n;
    } finally {
      this.#filling = undefined;
    }
  }
}

/**
 * Waits for connections (Python's `multiprocessing.connection.Listener`):
 * on a TCP `{ hostname, port }` or a Unix socket path.
 *
 * @typeParam T The type of the messages of the connections it accepts.
 *
 * @example A listener and a client
 * ```ts
 * import { Client, Listener } from "@mp/multiprocessing/connection";
 * import assert from "node:assert/strict";
 *
 * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 }, {
 *   authkey: "secret",
 * });
 * const accepted = listener.accept();
 * await using client = await Client(listener.address, { authkey: "secret" });
 * await using server = await accepted;
 * await server.send([1, "two", null]);
 * assert.deepEqual(await client.recv(), [1, "two", null]);
 * ```
 */
export class Listener<T = unknown> implements Disposable, AsyncDisposable {
  #listener: TransportListener;
  #settings: Settings;
  #authkey: Uint8Array | undefined;
  #onReject: ((error: Error) => void) | undefined;
  #address: Address;
  #path: string | undefined;
  #ready: SocketConnection<T>[] = [];
  #waiters: PromiseWithResolvers<SocketConnection<T>>[] = [];
  #admitting = new Set<Promise<void>>();
  #pumping = false;
  #closed = false;

  /**
   * Listens on `address`.
   *
   * @param address `{ hostname, port }` (port 0 picks a free one, see
   * {@linkcode Listener.address}) or a Unix socket path, which must not
   * exist yet.
   * @param options The `authkey` peers must hold, and the options of the
   * connections it accepts.
   * @throws {TypeError} For a bad address or authkey.
   * @throws {ProcessError} For a non-loopback address without `authkey`
   * (unless `allowUnauthenticated`), or when the address is taken.
   *
   * @example On a Unix socket
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * const dir = await Deno.makeTempDir();
   * const path = `${dir}/socket`;
   * {
   *   await using listener = new Listener(path);
   *   assert.equal(listener.address, path);
   *   const accepted = listener.accept();
   *   await using client = await Client(path);
   *   await using server = await accepted;
   *   await client.send("over a Unix socket");
   *   assert.equal(await server.recv(), "over a Unix socket");
   * }
   * await Deno.remove(dir, { recursive: true });
   * ```
   */
  constructor(address: Address, options: ListenerOptions = {}) {
    checkAddress(address);
    this.#settings = settingsOf(options);
    this.#authkey = keyOf(options.authkey);
    this.#onReject = options.onReject;
    if (
      options.backlog !== undefined &&
      (!Number.isInteger(options.backlog) || options.backlog < 0)
    ) {
      throw new RangeError(
        `The backlog must be a whole number from 0 up, got ${options.backlog}`,
      );
    }
    if (
      typeof address !== "string" && !isLoopback(address.hostname) &&
      !this.#authkey?.length && !options.allowUnauthenticated
    ) {
      throw new ProcessError(
        `Refusing to listen on ${
          describeAddress(address)
        } without an authkey: any machine that reaches it could send data to this program; pass { authkey }, listen on 127.0.0.1, or pass { allowUnauthenticated: true }`,
      );
    }
    try {
      this.#listener = listenSocket(address);
    } catch (error) {
      throw new ProcessError(
        `Cannot listen on ${describeAddress(address)}: ${
          (error as Error).message
        }; pick another address${
          typeof address === "string" ? " or remove the stale socket file" : ""
        }`,
        { cause: error },
      );
    }
    this.#address = this.#listener.address;
    if (typeof this.#address === "string") this.#path = this.#address;
    // Nothing keeps the process alive but an accept() someone awaits.
    this.#listener.unref();
  }

  /**
   * Where this listener listens: the path, or `{ hostname, port }` with the
   * port it got when 0 was asked.
   *
   * @example The port picked
   * ```ts
   * import { Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const { port } = listener.address as { port: number };
   * assert(port > 0);
   * ```
   */
  get address(): Address {
    return this.#address;
  }

  /**
   * Whether {@linkcode Listener.close} was called.
   *
   * @example Closed
   * ```ts
   * import { Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * const listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * listener.close();
   * assert.equal(listener.closed, true);
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits for the next peer that connects and passes the handshake. Peers
   * are authenticated side by side, so one that stalls or fails delays no
   * other; each failure goes to `onReject`.
   *
   * @returns The connection to that peer.
   * @throws {ProcessError} When the listener is closed (before or while
   * waiting).
   *
   * @example Two clients
   * ```ts
   * import { Client, Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * await using a = await Client(listener.address);
   * await using b = await Client(listener.address);
   * await using first = await listener.accept();
   * await using second = await listener.accept();
   * await a.send("a");
   * await b.send("b");
   * const got = [await first.recv(), await second.recv()];
   * assert.deepEqual(got.sort(), ["a", "b"]);
   * ```
   */
  accept(): Promise<SocketConnection<T>> {
    if (this.#closed) {
      return Promise.reject(
        new ProcessError(
          "Cannot accept(): the listener is closed; make a new Listener",
        ),
      );
    }
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    const waiter = Promise.withResolvers<SocketConnection<T>>();
    this.#waiters.push(waiter);
    this.#listener.ref();
    this.#pump();
    return waiter.promise;
  }

  /** Accepts sockets while someone waits for a connection. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waiters.length > 0 && !this.#closed) {
        let conn: Transport;
        try {
          conn = await this.#listener.accept();
        } catch (error) {
          if (this.#closed) return;
          this.#failWaiters(
            new ProcessError(
              `The listener on ${describeAddress(this.#address)} failed: ${
                (error as Error).message
              }`,
              { cause: error },
            ),
          );
          return;
        }
        this.#admit(conn);
      }
    } finally {
      this.#pumping = false;
      if (!this.#closed && this.#waiters.length === 0) this.#listener.unref();
    }
  }

  /** Authenticates a new socket, then hands it to a waiter or queues it. */
  #admit(conn: Transport): void {
    const admitting = openConnection(
      conn,
      this.#settings,
      this.#authkey,
      "server",
    ).then(
      (connection) => {
        if (this.#closed) return connection.close();
        const waiter = this.#waiters.shift();
        if (waiter) waiter.resolve(connection as SocketConnection<T>);
        else this.#ready.push(connection as SocketConnection<T>);
        if (this.#waiters.length === 0) this.#listener.unref();
      },
      (error) => {
        try {
          conn.close();
        } catch {
          // Closed by the failed handshake already.
        }
        if (!this.#closed) this.#onReject?.(error as Error);
      },
    ).finally(() => this.#admitting.delete(admitting));
    this.#admitting.add(admitting);
  }

  #failWaiters(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  /**
   * Stops listening: waiting `accept()`s reject, connections accepted but
   * not taken are closed, and a Unix socket's file is removed. Connections
   * already returned stay open. Closing twice does nothing.
   *
   * @example A closed listener accepts nothing
   * ```ts
   * import { Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * const listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   * const waiting = listener.accept();
   * listener.close();
   * await assert.rejects(waiting, /closed/);
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    for (const connection of this.#ready.splice(0)) connection.close();
    this.#failWaiters(
      new ProcessError(
        "The listener was closed while accept() waited; make a new Listener",
      ),
    );
    if (this.#path) {
      try {
        Deno.removeSync(this.#path);
      } catch {
        // Gone already.
      }
    }
  }

  /**
   * Closes the listener when a `using` block ends.
   *
   * @example Closed at the end of the scope
   * ```ts
   * import { Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * let kept: Listener;
   * {
   *   using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   *   kept = listener;
   * }
   * assert.equal(kept.closed, true);
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Closes the listener, then waits for the handshakes under way to end,
   * when an `await using` block ends.
   *
   * @example Closed at the end of the scope
   * ```ts
   * import { Listener } from "@mp/multiprocessing/connection";
   * import assert from "node:assert/strict";
   *
   * let kept: Listener;
   * {
   *   await using listener = new Listener({ hostname: "127.0.0.1", port: 0 });
   *   kept = listener;
   * }
   * assert.equal(kept.closed, true);
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.all(this.#admitting);
  }
}

/**
 * Connects to a {@linkcode Listener}, of this library or Python's
 * (Python's `multiprocessing.connection.Client`).
 *
 * @typeParam T The type of the messages.
 * @param address The listener's `{ hostname, port }` or Unix socket path.
 * @param options The `authkey` the listener expects (none: no
 * handshake), and the options of the connection.
 * @returns The connection, once connected and authenticated.
 * @throws {AuthenticationError} When the keys differ (either end may find
 * out first).
 * @throws {ProcessError} When nothing listens there.
 * @throws {TimeoutError} When the listener stalls in the handshake.
 *
 * @example A wrong key
 * ```ts
 * import { Client, Listener } from "@mp/multiprocessing/connection";
 * import { AuthenticationError } from "@mp/multiprocessing/errors";
 * import assert from "node:assert/strict";
 *
 * await using listener = new Listener({ hostname: "127.0.0.1", port: 0 }, {
 *   authkey: "right",
 * });
 * listener.accept().catch(() => {}); // drives the handshake
 * await assert.rejects(
 *   Client(listener.address, { authkey: "wrong" }),
 *   AuthenticationError,
 * );
 * ```
 */
export async function Client<T = unknown>(
  address: Address,
  options: ConnectionOptions = {},
): Promise<SocketConnection<T>> {
  checkAddress(address);
  const settings = settingsOf(options);
  const authkey = keyOf(options.authkey);
  let conn: Transport;
  try {
    conn = await connectSocket(address);
  } catch (error) {
    throw new ProcessError(
      `Cannot connect to ${describeAddress(address)}: ${
        (error as Error).message
      }; start the Listener first, or check the address`,
      { cause: error },
    );
  }
  try {
    return await openConnection(
      conn,
      settings,
      authkey,
      "client",
    ) as SocketConnection<T>;
  } catch (error) {
    if (error instanceof AuthenticationError || error instanceof TimeoutError) {
      throw error;
    }
    if (error instanceof EOFError) {
      throw new AuthenticationError(
        `The listener on ${
          describeAddress(address)
        } closed the connection during the handshake: it may expect another authkey, or none`,
        { cause: error },
      );
    }
    throw error;
  }
}
