// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The proxy a subprocess child holds for a primitive that lives in its
// parent (its "home"), and the client that carries its calls there.
//
// A call goes from the thread that makes it to an I/O Worker of this
// process, which owns the socket to the home's agent (Deno has no
// synchronous socket read, so a thread that must block cannot read its own
// socket). The calling thread appends the call's frame to a shared outbox
// and wakes the I/O Worker with `Atomics.notify` (its `Atomics.waitAsync`
// wakes several times faster than a `postMessage` arrives, and frames that
// pile up meanwhile go in one write). A call that must block (`*Sync`, getters, setters, and methods
// whose result is not known to be a promise) waits with `Atomics.wait`
// until the I/O Worker puts the answer in a shared buffer; an `async`
// method's answer goes into a shared inbox instead, where this thread
// waits for it with `Atomics.waitAsync`, so the event loop runs meanwhile
// (a `postMessage` from the I/O Worker, and the Worker's ref that kept the
// process alive for it, cost several times more per answer); only an
// answer with large buffers comes as a message, which moves them. A method
// that turns out to return a promise is answered "pending" at once and
// settled later, so every method keeps its shape.
import { dataToError } from "../../../_error.ts";
import { ProcessError } from "../../../errors.ts";
import { waitUntilSync } from "../../../_shm/futex.ts";
import {
  decodeFrame,
  encodeFrame,
  encodeFrameParts,
  frameReader,
  loadV8,
  splitLengths,
} from "../channel.ts";
import { type MemberKind, SYMBOLS } from "./shape.ts";
import {
  type Mode,
  type Op,
  PROXY_KIND,
  proxyForm,
  type ProxyState,
  type Reply,
  type Request,
  served,
} from "./protocol.ts";
import {
  crossesProcesses,
  decodeSync,
  encode,
  registerKind,
  toWire,
  type WireContext,
  wireContext,
  type WireForm,
} from "../../../_wire.ts";
import { holdEventLoop, setWorkerRef } from "../../../_deno_compat.ts";
import { fillTarget, intoTarget } from "../../../_bytes_into.ts";
import { exportOwn } from "./session.ts";
import {
  HANDSHAKE_SOURCE,
  type HandshakeKit,
  ownAuthkey,
} from "../../../_net/handshake.ts";

await loadV8();

// The handshake's functions and the frame reader in the I/O Worker, which
// cannot import them: its Blob defines them first (see IO_URL).
declare const HANDSHAKE: HandshakeKit;
declare const FRAME_READER: typeof frameReader;

// The I/O Worker's code, in a Blob so that a child without read permission
// can start it. It authenticates its connection (the agent's socket
// answers only the holders of the process tree's authkey), then only moves
// bytes: frames from the outbox to the socket, and answers back, into the
// shared buffer when this thread waits for that call, else into the inbox.
// The outbox's large frames are written from where they are.
function ioWorker(): void {
  // Outbox bytes this many or more are written from where they are.
  const IN_PLACE = 64 * 1024;
  // This function runs as a Worker's whole module.
  const scope = self as unknown as {
    postMessage(message: unknown, transfer?: Transferable[]): void;
    onmessage: ((event: MessageEvent) => void) | null;
  };
  let conn: Deno.Conn | undefined;
  let ctl: Int32Array;
  let data: SharedArrayBuffer;
  let out: SharedArrayBuffer;
  let inbox: SharedArrayBuffer;
  let writing = Promise.resolve();
  const write = (bytes: Uint8Array) => {
    writing = writing.then(async () => {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await conn!.write(bytes.subarray(offset));
      }
    }).catch(() => {});
  };
  const closed = () => {
    Atomics.store(ctl, 3, 1);
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    Atomics.add(ctl, 5, 1);
    Atomics.notify(ctl, 5);
    Atomics.add(ctl, 7, 1);
    Atomics.notify(ctl, 7);
  };
  // Takes what the outbox holds (ctl[4] bytes): the caller appends past
  // that length and publishes with a compare-exchange, so emptying it is
  // a compare-exchange too, which fails when more came meanwhile. Small
  // batches are copied out, so callers may append while they are written;
  // a large one is written from the outbox, which is emptied only then.
  const drain = async () => {
    const bytes = new Uint8Array(out);
    let start = 0;
    for (;;) {
      const length = Atomics.load(ctl, 4);
      if (length - start >= IN_PLACE) {
        write(bytes.subarray(start, length));
        await writing;
      } else if (length > start) write(bytes.slice(start, length));
      start = length;
      if (Atomics.compareExchange(ctl, 4, length, 0) === length) return;
    }
  };
  const pump = async () => {
    while (!Atomics.load(ctl, 3)) {
      const seq = Atomics.load(ctl, 5);
      await drain();
      const wait = Atomics.waitAsync(ctl, 5, seq);
      if (wait.async) await wait.value;
    }
  };
  // Appends a record (its length, then its bytes) to the inbox, as the
  // outbox is appended to (ctl[6] its bytes, ctl[7] bumped and notified
  // unless `quiet`): the reader empties it with a compare-exchange, which
  // fails when more came meanwhile.
  const append = async (bytes: Uint8Array, quiet = false) => {
    for (;;) {
      const at = Atomics.load(ctl, 6);
      const end = at + 4 + bytes.length;
      if (inbox.byteLength < end) {
        if (end > inbox.maxByteLength) {
          // Answers this thread has not taken yet fill the inbox: wait
          // until it takes them (it empties the inbox whole).
          const wait = Atomics.waitAsync(ctl, 6, at, 10);
          if (wait.async) await wait.value;
          continue;
        }
        inbox.grow(
          Math.min(inbox.maxByteLength, Math.max(end, inbox.byteLength * 2)),
        );
      }
      new DataView(inbox).setUint32(at, bytes.length);
      new Uint8Array(inbox).set(bytes, at + 4);
      if (Atomics.compareExchange(ctl, 6, at, end) === at) break;
    }
    if (quiet) return;
    Atomics.add(ctl, 7, 1);
    Atomics.notify(ctl, 7);
  };
  // An answer goes whole (its head, then its large buffers) into the
  // shared buffer when this thread waits for it. Else it goes into the
  // inbox; or, when it brought large buffers (read into memory of their
  // own), in a message that moves them, and an empty record keeps its
  // place in the inbox, among the other answers (put there first, quietly:
  // the message is what the reader takes the inbox on).
  const deliver = async (
    frame: Uint8Array,
    owned: boolean,
    buffers: ArrayBuffer[],
  ) => {
    const tag = new DataView(frame.buffer, frame.byteOffset).getUint32(5);
    if (Atomics.compareExchange(ctl, 1, tag, 0) === tag) {
      let length = frame.length;
      for (const buffer of buffers) length += buffer.byteLength;
      if (data.byteLength < length) data.grow(length);
      const into = new Uint8Array(data);
      into.set(frame);
      let at = frame.length;
      for (const buffer of buffers) {
        into.set(new Uint8Array(buffer), at);
        at += buffer.byteLength;
        // Freed now, so that the next large answer reuses its memory.
        buffer.transfer(0);
      }
      Atomics.store(ctl, 2, length);
      Atomics.store(ctl, 0, 1);
      Atomics.notify(ctl, 0);
    } else if (buffers.length > 0) {
      const bytes = owned && frame.byteOffset === 0 &&
          frame.length === frame.buffer.byteLength
        ? frame
        : frame.slice();
      await append(new Uint8Array(0), true);
      scope.postMessage({ bytes, buffers }, [
        bytes.buffer as ArrayBuffer,
        ...buffers,
      ]);
    } else {
      await append(frame);
    }
  };
  const read = async () => {
    const reader = FRAME_READER((into) => conn!.read(into).catch(() => null));
    while (true) {
      for (let frame = reader.take(); frame; frame = reader.take()) {
        await deliver(frame.bytes, frame.owned, frame.buffers);
      }
      const whole = await reader.more();
      if (whole === null) return closed();
      if (whole) await deliver(whole.bytes, whole.owned, whole.buffers);
    }
  };
  scope.onmessage = async (event: MessageEvent) => {
    // The one message: where to connect, and the shared buffers.
    ({ ctl, data, out, inbox } = event.data);
    // The agent may still be starting: try for a minute.
    const deadline = Date.now() + 60_000;
    for (let delay = 2; !conn; delay = Math.min(delay * 2, 50)) {
      try {
        conn = await Deno.connect({ transport: "unix", path: event.data.path });
      } catch {
        if (Date.now() > deadline) return closed();
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    try {
      await HANDSHAKE.clientHandshake(
        HANDSHAKE.connChannel(conn),
        event.data.authkey,
      );
    } catch {
      conn.close();
      return closed();
    }
    read();
    pump();
  };
}

const IO_URL = URL.createObjectURL(
  new Blob([
    `const HANDSHAKE=${HANDSHAKE_SOURCE};const FRAME_READER=${frameReader};(${ioWorker})()`,
  ], {
    type: "text/javascript",
  }),
);

// ctl: [0] an answer is there, [1] the call this thread waits for,
// [2] the answer's length, [3] the connection is closed, [4] the bytes in
// the outbox, [5] bumped (and notified) when frames were put there, [6]
// the bytes in the inbox, [7] bumped (and notified) when answers were put
// there or the connection closed.
const READY = 0;
const WAITING = 1;
const LENGTH = 2;
const CLOSED = 3;
const OUT_LENGTH = 4;
const OUT_SEQ = 5;
const IN_LENGTH = 6;
const IN_SEQ = 7;
const MAX_BYTES = 1 << 30;
// Answers pile up in the inbox until this thread takes them: room for two
// of the largest (a pipe's message of MAX_BYTES, with its frame's head).
const INBOX_BYTES = 2 * MAX_BYTES + (1 << 20);
/** An answer's place in the inbox, when it comes as a message. */
const POSTED = Symbol("posted");

/** An answer that came as a message: its frame's head and large buffers. */
interface Posted {
  bytes: Uint8Array;
  buffers: ArrayBuffer[];
}

class Client {
  #path: string;
  #worker: Worker;
  #ctl = new Int32Array(new SharedArrayBuffer(32));
  #data = new SharedArrayBuffer(65536, { maxByteLength: MAX_BYTES });
  #out = new SharedArrayBuffer(65536, { maxByteLength: MAX_BYTES });
  #inbox = new SharedArrayBuffer(65536, { maxByteLength: INBOX_BYTES });
  #next = 1;
  /** Whether this thread waits for answers in the inbox. */
  #listening = false;
  /** Whether the listener saw the connection closed. */
  #closed = false;
  /** Answers that came as messages, not yet settled, in order. */
  #posted: Posted[] = [];
  /**
   * Answers taken from the inbox behind one that is still to come as a
   * message (copies, and POSTED for each such one), in order.
   */
  #backlog: (Uint8Array | typeof POSTED)[] = [];
  #reffed = false;
  #calls = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: unknown) => void }
  >();

  constructor(path: string) {
    this.#path = path;
    this.#worker = new Worker(IO_URL, {
      type: "module",
      name: "multiprocessing I/O",
    });
    this.#worker.postMessage({
      path,
      ctl: this.#ctl,
      data: this.#data,
      out: this.#out,
      inbox: this.#inbox,
      authkey: ownAuthkey(),
    });
    this.#worker.onmessage = (event: MessageEvent<Posted>) => {
      this.#posted.push(event.data);
      // Its place, and the answers after it, are in the inbox by now.
      this.#takeInbox();
    };
    setWorkerRef(this.#worker, false);
  }

  // Keeps this process alive while an answer that came before the close
  // is still to come as a message.
  #ref(on: boolean): void {
    if (this.#reffed === on) return;
    this.#reffed = on;
    setWorkerRef(this.#worker, on);
  }

  /** Sends a call; returns its value, or a promise of it. */
  call(request: Request): unknown {
    if (Atomics.load(this.#ctl, CLOSED)) {
      if (request.m === "async") return Promise.reject(this.#closedError());
      throw this.#closedError();
    }
    const id = this.#next++;
    let parts: Uint8Array[];
    try {
      // Most calls pass nothing, or numbers and strings: they need no walk.
      if (request.a.every(isScalar)) parts = [encodeFrame(request, id)];
      else {
        const { a, buffers } = encodeArguments(request.a);
        parts = encodeFrameParts({ ...request, a }, id, buffers);
      }
    } catch (error) {
      throw new DOMException(
        `Cannot pass the arguments of ${request.n}() to the process that owns this primitive: ${
          (error as Error).message
        } (a subprocess child's primitives run in their home process, and a function cannot be sent there)`,
        "DataCloneError",
      );
    }
    if (request.m === "async") {
      try {
        this.#send(parts);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#expect(id);
    }
    Atomics.store(this.#ctl, READY, 0);
    Atomics.store(this.#ctl, WAITING, id);
    this.#send(parts);
    const ctl = this.#ctl;
    waitUntilSync(ctl, READY, Infinity, () => Atomics.load(ctl, READY) !== 0);
    if (Atomics.load(this.#ctl, CLOSED)) {
      Atomics.store(this.#ctl, WAITING, 0);
      throw this.#closedError();
    }
    const reply = this.#answer() as Reply;
    if ("pending" in reply) return this.#expect(id);
    return unwrap(reply);
  }

  /** The answer the I/O Worker put in the shared buffer. */
  #answer(): unknown {
    const length = Atomics.load(this.#ctl, LENGTH);
    return decodeAnswer(new Uint8Array(this.#data, 0, length));
  }

  /** Appends a frame (its parts) to the outbox and wakes the I/O Worker. */
  #send(parts: Uint8Array[]): void {
    const out = this.#out;
    let bytes = 0;
    for (const part of parts) bytes += part.length;
    for (;;) {
      const at = Atomics.load(this.#ctl, OUT_LENGTH);
      const end = at + bytes;
      if (end > out.byteLength) {
        if (end > MAX_BYTES) {
          throw new RangeError(
            `Cannot send ${bytes} bytes to the process that owns this primitive: at most ${MAX_BYTES} bytes may wait to be sent; pass smaller values`,
          );
        }
        out.grow(Math.min(MAX_BYTES, Math.max(end, out.byteLength * 2)));
      }
      const outbox = new Uint8Array(out);
      let offset = at;
      for (const part of parts) {
        outbox.set(part, offset);
        offset += part.length;
      }
      // Fails only when the I/O Worker emptied the outbox meanwhile.
      if (Atomics.compareExchange(this.#ctl, OUT_LENGTH, at, end) === at) {
        break;
      }
    }
    Atomics.add(this.#ctl, OUT_SEQ, 1);
    Atomics.notify(this.#ctl, OUT_SEQ);
  }

  #expect(id: number): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#calls.set(id, { resolve, reject });
    if (!this.#listening) this.#listen();
    return promise;
  }

  /**
   * Takes the answers in the inbox as they come, while calls await them;
   * the wait holds the event loop, so this process lives until they come.
   */
  async #listen(): Promise<void> {
    this.#listening = true;
    using _ = holdEventLoop();
    const ctl = this.#ctl;
    try {
      while (this.#calls.size > 0 && !this.#closed) {
        const seq = Atomics.load(ctl, IN_SEQ);
        // Read before the inbox: an answer put there before the close is
        // taken, and not lost to the closed error.
        this.#closed = Atomics.load(ctl, CLOSED) !== 0;
        this.#takeInbox();
        if (this.#calls.size === 0 || this.#closed) break;
        const wait = Atomics.waitAsync(ctl, IN_SEQ, seq);
        if (wait.async) await wait.value;
      }
    } finally {
      this.#listening = false;
    }
  }

  /** Settles the calls whose answers are in the inbox, and empties it. */
  #takeInbox(): void {
    const inbox = new Uint8Array(this.#inbox);
    const view = new DataView(this.#inbox);
    let start = 0;
    for (;;) {
      const length = Atomics.load(this.#ctl, IN_LENGTH);
      while (start < length) {
        const size = view.getUint32(start);
        start += 4;
        if (size === 0) this.#backlog.push(POSTED);
        else {
          const record = inbox.subarray(start, start + size);
          // Settled at once, unless answers before it are still to come.
          if (this.#backlog.length === 0) this.#settle(record);
          else this.#backlog.push(record.slice());
        }
        start += size;
      }
      if (Atomics.compareExchange(this.#ctl, IN_LENGTH, length, 0) === length) {
        break;
      }
    }
    this.#takeBacklog();
  }

  /**
   * Settles the answers of the backlog in order, up to one that is still
   * to come as a message (the listener, or once the connection closed the
   * Worker, keeps this process alive until it comes). Once the connection
   * closed and every answer that came before was settled, the calls left
   * get the closed error.
   */
  #takeBacklog(): void {
    while (this.#backlog.length > 0) {
      const next = this.#backlog[0];
      if (next === POSTED) {
        const posted = this.#posted.shift();
        if (!posted) break;
        this.#settle(posted.bytes, posted.buffers);
      } else this.#settle(next);
      this.#backlog.shift();
    }
    this.#ref(this.#closed && this.#backlog.length > 0);
    if (this.#closed && this.#backlog.length === 0) this.#rejectAll();
  }

  /**
   * Settles the call whose answer `whole` is: a view of its bytes in the
   * inbox (copied here), or a frame's head and its `buffers`.
   */
  #settle(whole: Uint8Array, buffers?: ArrayBuffer[]): void {
    const id = new DataView(whole.buffer, whole.byteOffset).getUint32(5);
    const call = this.#calls.get(id);
    if (!call) return;
    let reply: Reply;
    try {
      reply =
        (buffers ? decodeFrame(whole, buffers) : decodeAnswer(whole)) as Reply;
    } catch (error) {
      this.#calls.delete(id);
      call.reject(error);
      return;
    }
    if ("pending" in reply) return;
    this.#calls.delete(id);
    try {
      call.resolve(unwrap(reply));
    } catch (error) {
      call.reject(error);
    }
  }

  #rejectAll(): void {
    for (const { reject } of this.#calls.values()) {
      reject(this.#closedError());
    }
    this.#calls.clear();
  }

  #closedError(): ProcessError {
    return new ProcessError(
      `The process that owns this primitive has ended (its socket ${this.#path} closed): a primitive passed to a subprocess lives in the process that passed it, so use it only while that process runs`,
    );
  }
}

/**
 * The answer whose bytes (a frame's head, then its large buffers: see
 * frameReader) `whole` holds, in shared memory: each part is copied out.
 */
function decodeAnswer(whole: Uint8Array): unknown {
  const length = whole.length;
  const lengths = splitLengths(whole);
  let at = length;
  for (const size of lengths) at -= size;
  const head = whole.slice(0, at);
  const buffers = lengths.map((size) => {
    at += size;
    return whole.slice(at - size, at).buffer;
  });
  return decodeFrame(head, buffers);
}

/** A call's arguments, encoded (a primitive this process made goes as a
 * proxy served here), and the buffers in them. */
function encodeArguments(
  args: unknown[],
): { a: unknown; buffers?: ArrayBuffer[] } {
  const ctx = wireContext("subprocess", exportOwn);
  ctx.liftViews = true; // node:v8 writes a typed array slowly, a buffer fast
  return { a: encode(args, ctx), buffers: ctx.buffers };
}

/** Whether `value` is a string, boolean or number (which JSON carries, as
 * {@linkcode encodeFrame} checks, or carries over `node:v8`). */
function isScalar(value: unknown): boolean {
  const type = typeof value;
  return type === "string" || type === "boolean" || type === "number";
}

function unwrap(reply: Reply): unknown {
  if ("err" in reply) throw dataToError(reply.err);
  const value = (reply as { ok?: unknown }).ok;
  return typeof value === "object" && value !== null
    ? decodeSync(value)
    : value;
}

const clients = new Map<string, Client>();

function clientOf(path: string): Client {
  let client = clients.get(path);
  if (!client) clients.set(path, client = new Client(path));
  return client;
}

function modeOf(name: string, kind: MemberKind): Mode {
  if (name.endsWith("Sync")) return "wait";
  return kind === "a" ? "async" : "probe";
}

/**
 * A member the proxy runs in this process, on top of other members of its
 * home, else `undefined`. A method that writes into memory it is given
 * cannot run at home, which gets a copy of its arguments: so
 * `recvBytesInto` checks its arguments here (bad ones lose no message),
 * receives the message with `recvBytes` and copies it in. Its bytes come
 * over the socket into memory of their own anyway.
 */
function localMember(
  name: string,
  members: Record<string, MemberKind>,
  call: (op: Op, n: string, a: unknown[], m: Mode) => unknown,
): ((...args: unknown[]) => unknown) | undefined {
  if (name !== "recvBytesInto" || members.recvBytes !== "a") return undefined;
  return async (buffer: unknown, offset?: unknown) => {
    const target = intoTarget(buffer, offset, name);
    const bytes = await call("call", "recvBytes", [], "async");
    return fillTarget(target, bytes as Uint8Array);
  };
}

/** Builds the proxy of the object `state` names. */
function makeProxy(state: ProxyState): object {
  const client = clientOf(state.path);
  const { id, shape } = state;
  const call = (op: Op, n: string, a: unknown[], m: Mode) =>
    client.call({ o: id, op, n, a, m });
  // A class of the primitive's name, so that inspection says what it is.
  const Named = { [shape.name]: class {} }[shape.name];
  const base = new Named() as Record<string | symbol, unknown>;
  for (const [name, kind] of Object.entries(shape.members)) {
    const key = SYMBOLS[name] ?? name;
    if (kind === "g" || kind === "s") {
      Object.defineProperty(base, key, {
        get: () => call("get", name, [], "wait"),
        set: kind === "s"
          ? (value: unknown) => call("set", name, [value], "wait")
          : undefined,
        enumerable: false,
      });
    } else {
      const mode = modeOf(name, kind);
      Object.defineProperty(base, key, {
        value: localMember(name, shape.members, call) ??
          ((...args: unknown[]) => call("call", name, args, mode)),
        enumerable: false,
        writable: true,
      });
    }
  }
  Object.defineProperties(base, {
    [toWire]: { value: (_ctx: WireContext): WireForm => proxyForm(state) },
    [crossesProcesses]: { value: true },
  });
  if (!shape.indexed) return base;
  const isIndex = (key: string | symbol) =>
    typeof key === "string" && /^\d+$/.test(key);
  return new Proxy(base, {
    get: (target, key, receiver) =>
      isIndex(key)
        ? call("get", key as string, [], "wait")
        : Reflect.get(target, key, receiver),
    set: (target, key, value, receiver) => {
      if (!isIndex(key)) return Reflect.set(target, key, value, receiver);
      call("set", key as string, [value], "wait");
      return true;
    },
    has: (target, key) =>
      isIndex(key)
        ? Number(key) < (call("get", "length", [], "wait") as number)
        : Reflect.has(target, key),
  });
}

// The proxies alive in this thread, by socket path and id: an object that
// comes again (a Value's lock, from each getLock()) is the same proxy.
const proxies = new Map<string, WeakRef<object>>();
const collected = new FinalizationRegistry<string>((key) => {
  if (!proxies.get(key)?.deref()) proxies.delete(key);
});

registerKind(PROXY_KIND, (state) => {
  const { path, id } = state as ProxyState;
  const local = served.get(path);
  if (local) {
    if (!local.has(id)) {
      throw new ReferenceError(`No object ${id} is served at ${path}`);
    }
    return local.get(id);
  }
  const key = `${id}@${path}`;
  let proxy = proxies.get(key)?.deref();
  if (!proxy) {
    proxy = makeProxy(state as ProxyState);
    proxies.set(key, new WeakRef(proxy));
    collected.register(proxy, key);
  }
  return proxy;
});
