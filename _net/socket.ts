// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The sockets under connection.ts's Listener and Client: the few operations
// a connection needs (write all, read some, close, ref and unref), over
// Deno's own `Deno.Conn`, or over a descriptor this module owns through FFI.
//
// Why FFI: a receive that Deno's event loop wakes costs 38-44 µs a round
// trip on a bare socket, where Python's bare socket takes 21-30 and its
// whole `Client` round trip about 50: the wake-up through the event loop
// (tokio's poll, then this thread) costs as much as Python's work. An
// answer usually comes within tens of microseconds, so the FFI socket asks
// the kernel for it directly, as Python's blocking read does (see
// SocketBrief): measured at rest, two Deno processes made a bare round trip
// in 17-24 µs this way. A long wait parks on Deno's pool (`poll` in a
// `nonblocking: true` call), which costs more than Deno's own read (about
// 70 µs a side), hence the brief wait first.
//
// Why own the descriptor (socket, connect, bind, listen, accept through
// FFI) rather than find the one under a `Deno.Conn`: Deno does not give a
// connection's descriptor, and looking it up is ambiguous (a Unix client
// socket has no name). Owning it, a parked wait keeps the event loop alive
// as a pending read does, and is ended by `shutdown` of the descriptor on
// close or by an eventfd nudge on unref; the descriptor is closed only once
// no poll uses it, so that no thread is left blocked on it and its number
// cannot be reused under one.
//
// Used only where it changes nothing a user sees: the main thread of a
// process (see inWorker) on Linux with FFI granted, a Unix socket path or a
// numeric IPv4 address (a hostname resolves as Deno resolves it, on Deno's
// socket), and the permissions Deno would check for the same socket already
// granted (`--allow-net` for the host and port or `unix:` path; read and
// write of a Unix socket's path): anything else, a prompt included, goes to
// Deno's socket, which asks or throws as before. `MP_SOCKET=deno` in the
// environment keeps Deno's sockets.
import { errno, type SocketCalls, socketCalls } from "../_shm/ffi/libc.ts";
import { unrefTimer } from "../_deno_compat.ts";

/** Where a socket listens or connects: a Unix socket path, or TCP. */
export type SocketAddress = string | { hostname: string; port: number };

/** One end of a stream socket, as a connection uses it. */
export interface Transport {
  /** Writes all of `bytes`, in order with the writes before. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Reads some bytes into `into`: how many, or `null` at the end of the
   * stream. Before it parks, it may ask the kernel for a while, no longer
   * than `waitMs` (how long the caller would wait: `Infinity`, or 0 for a
   * look).
   */
  read(into: Uint8Array, waitMs: number): Promise<number | null>;
  /** Closes it; a read or write waiting on it rejects. */
  close(): void;
  /** Lets a waiting read keep the event loop alive (the default). */
  ref(): void;
  /** Lets the process end while a read waits. */
  unref(): void;
}

/** A listening socket, as a `Listener` uses it. */
export interface TransportListener {
  /** Where it listens (the port it got, for port 0). */
  readonly address: SocketAddress;
  /** The next connection; rejects once closed. */
  accept(): Promise<Transport>;
  /** Stops listening; a waiting accept rejects. */
  close(): void;
  /** Lets a waiting accept keep the event loop alive (the default). */
  ref(): void;
  /** Lets the process end while an accept waits. */
  unref(): void;
}

/**
 * Listens on `address`: through FFI where that can be (see the top of this
 * file), else on Deno's socket.
 *
 * @throws {Error} The error of the system call or of `Deno.listen`.
 */
export function listen(address: SocketAddress): TransportListener {
  const target = ffiTarget(address);
  if (target) return FfiListener.listen(target);
  return new DenoListener(
    typeof address === "string"
      ? Deno.listen({ transport: "unix", path: address })
      : Deno.listen({ hostname: address.hostname, port: address.port }),
  );
}

/**
 * Connects to `address`: through FFI where that can be, else with Deno.
 *
 * @throws {Error} The error of the system call or of `Deno.connect`.
 */
export async function connect(address: SocketAddress): Promise<Transport> {
  const target = ffiTarget(address);
  if (target) return await FfiSocket.connect(target);
  return new DenoSocket(
    typeof address === "string"
      ? await Deno.connect({ transport: "unix", path: address })
      : await Deno.connect({ hostname: address.hostname, port: address.port }),
  );
}

/** How many FFI sockets (listening or not) are open in this thread. */
export function ffiSocketsOpen(): number {
  return openDescriptors;
}

// ------------------------------------------------------ Deno's sockets

class DenoSocket implements Transport {
  #conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    if (conn.localAddr.transport === "tcp") {
      (conn as Deno.TcpConn).setNoDelay(true);
    }
  }

  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.#conn, bytes);
  }

  read(into: Uint8Array): Promise<number | null> {
    return this.#conn.read(into);
  }

  close(): void {
    this.#conn.close();
  }

  ref(): void {
    this.#conn.ref();
  }

  unref(): void {
    this.#conn.unref();
  }
}

/** Writes all of `bytes`; `conn.write` may write part. */
function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  // Most writes write all at once: no async function for those.
  return conn.write(bytes).then((written) =>
    written < bytes.length ? writeAll(conn, bytes.subarray(written)) : undefined
  );
}

class DenoListener implements TransportListener {
  #listener: Deno.Listener;
  readonly address: SocketAddress;

  constructor(listener: Deno.Listener) {
    this.#listener = listener;
    const addr = listener.addr;
    if (addr.transport === "unix") this.address = addr.path;
    else {
      const { hostname, port } = addr as Deno.NetAddr;
      this.address = { hostname, port };
    }
  }

  async accept(): Promise<Transport> {
    return new DenoSocket(await this.#listener.accept());
  }

  close(): void {
    this.#listener.close();
  }

  ref(): void {
    this.#listener.ref();
  }

  unref(): void {
    this.#listener.unref();
  }
}

// ------------------------------------------------------ FFI sockets

// Linux's values, the same on x86_64 and aarch64.
const AF_UNIX = 1;
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;
const SO_RCVTIMEO = 20;
const F_SETFL = 4;
const O_RDWR = 2;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const SHUT_RDWR = 2;
const EINTR = 4;
const EAGAIN = 11;
const ECONNABORTED = 103;
const EINPROGRESS = 115;
const EALREADY = 114;
const EISCONN = 106;
/** The longest Unix socket path, with its terminating zero. */
const UNIX_PATH_MAX = 108;
/** The queue of pending connections, as Deno's own listeners have it. */
const BACKLOG = 1024;

/** An address the FFI socket can take, as the kernel wants it. */
interface Target {
  calls: SocketCalls;
  family: number;
  sockaddr: Uint8Array;
  address: SocketAddress;
}

/**
 * The address as the kernel takes it, where an FFI socket may be used for
 * it (see the top of this file); otherwise `undefined`.
 */
function ffiTarget(address: SocketAddress): Target | undefined {
  if (Deno.build.os !== "linux" || inWorker() || forcedDeno()) {
    return undefined;
  }
  const sockaddr = typeof address === "string"
    ? unixSockaddr(address)
    : inetSockaddr(address);
  if (!sockaddr || !permitted(address)) return undefined;
  const calls = socketCalls();
  if (!calls) return undefined;
  const family = typeof address === "string" ? AF_UNIX : AF_INET;
  return { calls, family, sockaddr, address };
}

/**
 * Whether this code runs in a Worker. A Worker may be terminated with no
 * code of its own run, and Deno then closes its own sockets but not a
 * descriptor owned through FFI, nor ends a poll of it on the pool: Workers
 * keep Deno's sockets.
 */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: unknown })
    .WorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

function forcedDeno(): boolean {
  try {
    const env = Deno.permissions.querySync({
      name: "env",
      variable: "MP_SOCKET",
    });
    return env.state === "granted" && Deno.env.get("MP_SOCKET") === "deno";
  } catch {
    return false;
  }
}

/** Whether Deno would let this process make that socket without asking. */
function permitted(address: SocketAddress): boolean {
  const descriptors: Deno.PermissionDescriptor[] = typeof address === "string"
    ? [
      { name: "net", host: `unix:${address}` },
      { name: "read", path: address },
      { name: "write", path: address },
    ]
    : [{ name: "net", host: `${address.hostname}:${address.port}` }];
  try {
    return descriptors.every((descriptor) =>
      Deno.permissions.querySync(descriptor).state === "granted"
    );
  } catch {
    return false;
  }
}

function unixSockaddr(path: string): Uint8Array | undefined {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length >= UNIX_PATH_MAX || bytes.includes(0)) return undefined;
  const sockaddr = new Uint8Array(2 + bytes.length + 1);
  new DataView(sockaddr.buffer).setUint16(0, AF_UNIX, true);
  sockaddr.set(bytes, 2);
  return sockaddr;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function inetSockaddr(
  { hostname, port }: { hostname: string; port: number },
): Uint8Array | undefined {
  const parts = IPV4.exec(hostname)?.slice(1).map(Number);
  if (!parts || parts.some((part) => part > 255)) return undefined;
  const sockaddr = new Uint8Array(16);
  const view = new DataView(sockaddr.buffer);
  view.setUint16(0, AF_INET, true);
  view.setUint16(2, port);
  sockaddr.set(parts, 4);
  return sockaddr;
}

let openDescriptors = 0;
/** Polls of this thread's FFI sockets under way on Deno's pool. */
let pollsUnderWay = 0;

/**
 * How many times a call must fail the same unexpected way before its errno
 * is believed. Deno may run native code of its own on this thread between
 * an FFI call and the read of errno (an allocation, a collection), and that
 * can leave errno changed: under load, an accept that found no connection
 * waiting once read ENOENT. A retry that fails again reads its own errno.
 */
const BELIEVED_AFTER = 3;

/** The error Deno would throw for `code`, with the same message. */
function osError(calls: SocketCalls, code: number): Error {
  const text = calls.strerror(code);
  const message = `${
    text ? Deno.UnsafePointerView.getCString(text) : "Unknown error"
  } (os error ${code})`;
  const Kind = ERRORS[code] ?? Error;
  return new Kind(message);
}

const ERRORS: Record<number, new (message: string) => Error> = {
  1: Deno.errors.PermissionDenied, // EPERM
  2: Deno.errors.NotFound, // ENOENT
  13: Deno.errors.PermissionDenied, // EACCES
  32: Deno.errors.BrokenPipe, // EPIPE
  98: Deno.errors.AddrInUse, // EADDRINUSE
  99: Deno.errors.AddrNotAvailable, // EADDRNOTAVAIL
  103: Deno.errors.ConnectionAborted, // ECONNABORTED
  104: Deno.errors.ConnectionReset, // ECONNRESET
  107: Deno.errors.NotConnected, // ENOTCONN
  110: Deno.errors.TimedOut, // ETIMEDOUT
  111: Deno.errors.ConnectionRefused, // ECONNREFUSED
};

function closedError(): Error {
  return new Deno.errors.BadResource("The socket is closed");
}

/** Half the first rest of an unref'd wait, in ms, and the longest. */
const IDLE_FIRST_MS = 0.5;
const IDLE_MAX_MS = 100;

/**
 * A descriptor this module owns, with its waits: a `poll` on a thread of
 * Deno's pool, and an eventfd that nudges a wait that must stop holding
 * the event loop (unref). It is closed once no poll uses it.
 */
class Descriptor {
  readonly fd: number;
  readonly calls: SocketCalls;
  #nudge: number;
  /** Polls under way on the pool, and those of them that a nudge ends. */
  #polls = 0;
  #nudgeable = 0;
  #closing = false;
  #referenced = true;
  /** The last rest of an unref'd wait. */
  #idleMs = IDLE_FIRST_MS;
  /** A wait parked while unref'd, until ref() or close(). */
  #parked: PromiseWithResolvers<void> | undefined;
  #count = new BigUint64Array(1);
  #countBytes = new Uint8Array(this.#count.buffer);

  /** Takes `fd`; closes it and throws when no eventfd can be had. */
  constructor(calls: SocketCalls, fd: number) {
    this.calls = calls;
    this.fd = fd;
    this.#nudge = calls.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#nudge < 0) {
      const error = osError(calls, errno(calls));
      calls.close(fd);
      throw error;
    }
    openDescriptors++;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Waits until the descriptor has one of `events` (or an error or hangup)
   * in `set` (16 bytes, this wait's own). A wait that `unref()` may end
   * (`nudgeable`) parks while unref'd, holding nothing.
   *
   * @throws {Deno.errors.BadResource} Once closed.
   */
  async wait(events: number, set: Uint8Array, nudgeable: boolean) {
    const view = new DataView(set.buffer, set.byteOffset, 16);
    for (;;) {
      if (this.#closing) throw closedError();
      if (nudgeable && !this.#referenced) {
        // A poll on the pool would hold the event loop: look again after
        // a while on an unref'd timer, each time later, so that what comes
        // meanwhile is still taken (as by Deno's unref'd read or accept).
        if (await this.#rest()) return;
        continue;
      }
      view.setInt32(0, this.fd, true);
      view.setInt16(4, events, true);
      view.setInt16(6, 0, true);
      view.setInt32(8, this.#nudge, true);
      view.setInt16(12, POLLIN, true);
      view.setInt16(14, 0, true);
      this.#polls++;
      pollsUnderWay++;
      if (nudgeable) this.#nudgeable++;
      let ready: number;
      try {
        ready = await this.calls.pollAsync(set, nudgeable ? 2n : 1n, -1);
      } finally {
        if (nudgeable) this.#nudgeable--;
        pollsUnderWay--;
        if (--this.#polls === 0 && this.#closing) this.#release();
      }
      if (this.#closing) throw closedError();
      // -1 is EINTR (errno is the pool thread's): poll again.
      if (ready <= 0) continue;
      if (nudgeable && view.getInt16(14, true) !== 0) {
        this.calls.read(this.#nudge, this.#countBytes, 8n);
      }
      if (view.getInt16(6, true) !== 0) return;
    }
  }

  /**
   * Sleeps while unref'd, on a timer that does not hold the event loop,
   * or until ref() or close(); whether it slept the whole while (then the
   * caller looks again).
   */
  async #rest(): Promise<boolean> {
    this.#idleMs = Math.min(this.#idleMs * 2, IDLE_MAX_MS);
    const parked = this.#parked ??= Promise.withResolvers();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slept = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#idleMs);
      unrefTimer(timer);
    });
    try {
      return await Promise.race([parked.promise.then(() => false), slept]);
    } finally {
      clearTimeout(timer);
    }
  }

  ref(): void {
    this.#referenced = true;
    this.#idleMs = IDLE_FIRST_MS;
    const parked = this.#parked;
    this.#parked = undefined;
    parked?.resolve();
  }

  unref(): void {
    if (!this.#referenced) return;
    this.#referenced = false;
    if (this.#nudgeable > 0) this.#poke();
  }

  /** Closes it: at once, or once the polls under way return. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#polls > 0) {
      // Wakes every poll on it: a read's, a write's, an accept's.
      this.calls.shutdown(this.fd, SHUT_RDWR);
      this.#poke();
    } else this.#release();
    const parked = this.#parked;
    this.#parked = undefined;
    parked?.resolve();
  }

  #poke(): void {
    this.#count[0] = 1n;
    this.calls.write(this.#nudge, this.#countBytes, 8n);
  }

  #release(): void {
    this.calls.close(this.fd);
    this.calls.close(this.#nudge);
    openDescriptors--;
  }
}

/** How long a read asks the kernel for data before it blocks. */
const SPIN_MS = 0.05;
/**
 * The shortest timeout of a socket's blocking receive (SO_RCVTIMEO): the
 * kernel rounds it up to one clock tick (1 to 4 ms by its configuration),
 * the end of a blocking read that found nothing.
 */
const BLOCK_TIMEVAL = new Uint8Array(new BigInt64Array([0n, 1n]).buffer);
/** The longest clock tick of Linux (100 Hz). */
const LONGEST_TICK_MS = 10;
/** After this many spins, or blocks, in a row ran out, they rest. */
const BRIEF_FAILS = 4;
/** The shortest and longest rest, in reads. */
const REST_MIN = 8;
const REST_MAX = 200;

/**
 * The brief wait of an FFI socket's read, for an answer that usually comes
 * within tens of microseconds, as `Brief` (see _shm/futex.ts) waits on
 * shared memory: up to 50 µs of `recv` tries, then one `recv` that blocks
 * the thread until bytes come or the kernel's next clock tick, then a park
 * on Deno's pool. A blocked thread wakes as fast as Python's blocking read
 * (one system call, where a poll, then a read, costs two, and a park costs
 * two thread wake-ups), and lets a peer that shares this core run, which a
 * spin does not.
 *
 * It learns the peer's pace: spins that keep running out rest for a number
 * of reads that doubles while the spin after a rest runs out too (a peer
 * that must share this core runs only once the spin stops), and blocks that
 * keep running out (a slow peer, which would hold up the event loop a tick
 * each) rest for {@linkcode REST_MAX} reads.
 */
class SocketBrief {
  #spinFails = 0;
  #spinSkip = 0;
  #spinRest = REST_MIN;
  #blockFails = 0;
  #blockSkip = 0;

  /** Runs `attempt` until it succeeds or the spin runs out. */
  spin(attempt: () => boolean): boolean {
    if (this.#spinSkip > 0) {
      this.#spinSkip--;
      return false;
    }
    const end = performance.now() + SPIN_MS;
    do {
      if (attempt()) {
        this.#spinFails = 0;
        this.#spinRest = REST_MIN;
        return true;
      }
    } while (performance.now() < end);
    if (++this.#spinFails >= BRIEF_FAILS) {
      this.#spinSkip = this.#spinRest;
      this.#spinRest = Math.min(this.#spinRest * 2, REST_MAX);
      this.#spinFails = BRIEF_FAILS - 1; // One more miss rests again.
    }
    return false;
  }

  /** After a spin that ran out: `block()`, unless blocks are resting. */
  block(block: () => boolean): boolean {
    if (this.#blockSkip > 0) {
      this.#blockSkip--;
      return false;
    }
    if (block()) {
      this.#blockFails = 0;
      return true;
    }
    if (++this.#blockFails >= BRIEF_FAILS) {
      this.#blockFails = 0;
      this.#blockSkip = REST_MAX;
    }
    return false;
  }
}

/**
 * A connected stream socket owned through FFI. It is a blocking socket,
 * for the timed blocking receive of its brief wait; every other call
 * passes MSG_DONTWAIT.
 */
class FfiSocket implements Transport {
  #descriptor: Descriptor;
  #calls: SocketCalls;
  #fd: number;
  #readSet = new Uint8Array(16);
  #writeSet = new Uint8Array(16);
  #brief = new SocketBrief();
  /** What the last {@linkcode FfiSocket.#tryRecv} got. */
  #got: number | null | undefined;

  constructor(calls: SocketCalls, fd: number, tcp: boolean) {
    this.#descriptor = new Descriptor(calls, fd);
    this.#calls = calls;
    this.#fd = fd;
    if (tcp) setOption(calls, fd, IPPROTO_TCP, TCP_NODELAY);
    calls.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, BLOCK_TIMEVAL, 16);
  }

  /** Connects a new socket to `target`. */
  static async connect(target: Target): Promise<FfiSocket> {
    const { calls, family, sockaddr } = target;
    // Connected without blocking, then made a blocking socket.
    const socket = new FfiSocket(
      calls,
      newSocket(calls, family, SOCK_NONBLOCK),
      family === AF_INET,
    );
    try {
      if (
        calls.connect(socket.#fd, sockaddr, sockaddr.length) !== 0 &&
        !connectedAfterAll(calls, socket.#fd, sockaddr)
      ) {
        await socket.#descriptor.wait(POLLOUT, socket.#writeSet, false);
        const failed = new Int32Array(1);
        const size = new Uint32Array([4]);
        calls.getsockopt(
          socket.#fd,
          SOL_SOCKET,
          SO_ERROR,
          new Uint8Array(failed.buffer),
          new Uint8Array(size.buffer),
        );
        if (failed[0] !== 0) throw osError(calls, failed[0]);
      }
      if (calls.fcntl(socket.#fd, F_SETFL, O_RDWR) !== 0) {
        throw osError(calls, errno(calls));
      }
    } catch (error) {
      socket.close();
      throw error;
    }
    return socket;
  }

  /** Adopts a (blocking) socket that `accept4` gave. */
  static adopt(calls: SocketCalls, fd: number, tcp: boolean): FfiSocket {
    return new FfiSocket(calls, fd, tcp);
  }

  write(bytes: Uint8Array): Promise<void> {
    try {
      const written = this.#trySend(bytes);
      return written === bytes.length
        ? Promise.resolve()
        : this.#writeRest(bytes, written);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends what the socket takes now; how much of `bytes` is written. */
  #trySend(bytes: Uint8Array, from = 0): number {
    let at = from;
    let failures = 0;
    while (at < bytes.length) {
      if (this.#descriptor.closing) throw closedError();
      const n = Number(
        this.#calls.send(
          this.#fd,
          at === 0 ? bytes : bytes.subarray(at),
          BigInt(bytes.length - at),
          MSG_DONTWAIT | MSG_NOSIGNAL,
        ),
      );
      if (n >= 0) {
        at += n;
        continue;
      }
      const code = errno(this.#calls);
      if (code === EAGAIN) return at;
      if (code !== EINTR && ++failures >= BELIEVED_AFTER) {
        throw osError(this.#calls, code);
      }
    }
    return at;
  }

  async #writeRest(bytes: Uint8Array, from: number): Promise<void> {
    let at = from;
    while (at < bytes.length) {
      await this.#descriptor.wait(POLLOUT, this.#writeSet, false);
      at = this.#trySend(bytes, at);
    }
  }

  read(into: Uint8Array, waitMs: number): Promise<number | null> {
    try {
      if (
        this.#tryRecv(into, false) ||
        waitMs > SPIN_MS && (
            this.#brief.spin(() => this.#tryRecv(into, false)) ||
            // Blocking would hold up this thread's other waits, and a
            // wait shorter than a clock tick.
            (pollsUnderWay === 0 && waitMs >= LONGEST_TICK_MS &&
              this.#brief.block(() => this.#tryRecv(into, true)))
          )
      ) {
        return Promise.resolve(this.#got!);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#readLater(into);
  }

  async #readLater(into: Uint8Array): Promise<number | null> {
    do await this.#descriptor.wait(POLLIN, this.#readSet, true); while (
      !this.#tryRecv(into, false)
    );
    return this.#got!;
  }

  /**
   * One `recv`, which waits until the next clock tick at most when `block`
   * and not at all otherwise: whether it got bytes or the end (then in
   * `#got`: a count, or `null`), or found nothing.
   */
  #tryRecv(into: Uint8Array, block: boolean): boolean {
    let failures = 0;
    for (;;) {
      if (this.#descriptor.closing) throw closedError();
      const n = Number(
        this.#calls.recv(
          this.#fd,
          into,
          BigInt(into.length),
          block ? 0 : MSG_DONTWAIT,
        ),
      );
      if (n >= 0) {
        this.#got = n === 0 ? null : n;
        return true;
      }
      const code = errno(this.#calls);
      if (code === EAGAIN || (code === EINTR && block)) return false;
      if (code !== EINTR && ++failures >= BELIEVED_AFTER) {
        throw osError(this.#calls, code);
      }
    }
  }

  close(): void {
    this.#descriptor.close();
  }

  ref(): void {
    this.#descriptor.ref();
  }

  unref(): void {
    this.#descriptor.unref();
  }
}

/** A listening socket owned through FFI (non-blocking). */
class FfiListener implements TransportListener {
  #descriptor: Descriptor;
  #calls: SocketCalls;
  #tcp: boolean;
  #set = new Uint8Array(16);
  readonly address: SocketAddress;

  private constructor(target: Target, fd: number) {
    this.#calls = target.calls;
    this.#descriptor = new Descriptor(target.calls, fd);
    this.#tcp = target.family === AF_INET;
    this.address = typeof target.address === "string"
      ? target.address
      : { hostname: target.address.hostname, port: boundPort(this.#calls, fd) };
  }

  /** Listens on `target`. */
  static listen(target: Target): FfiListener {
    const { calls, family, sockaddr } = target;
    const fd = newSocket(calls, family, SOCK_NONBLOCK);
    if (
      (family === AF_INET && !setOption(calls, fd, SOL_SOCKET, SO_REUSEADDR)) ||
      calls.bind(fd, sockaddr, sockaddr.length) !== 0 ||
      calls.listen(fd, BACKLOG) !== 0
    ) {
      const error = osError(calls, errno(calls));
      calls.close(fd);
      throw error;
    }
    return new FfiListener(target, fd);
  }

  async accept(): Promise<Transport> {
    const fd = this.#descriptor.fd;
    let failures = 0;
    for (;;) {
      if (this.#descriptor.closing) throw closedError();
      // A blocking socket (see FfiSocket).
      const accepted = this.#calls.accept4(fd, null, null, SOCK_CLOEXEC);
      if (accepted >= 0) {
        return FfiSocket.adopt(this.#calls, accepted, this.#tcp);
      }
      const code = errno(this.#calls);
      if (code === EAGAIN) {
        await this.#descriptor.wait(POLLIN, this.#set, true);
      } else if (
        code !== EINTR && code !== ECONNABORTED &&
        ++failures >= BELIEVED_AFTER
      ) {
        throw osError(this.#calls, code);
      }
    }
  }

  close(): void {
    this.#descriptor.close();
  }

  ref(): void {
    this.#descriptor.ref();
  }

  unref(): void {
    this.#descriptor.unref();
  }
}

/**
 * After a non-blocking `connect` that did not connect at once: `true` when
 * it connected after all, `false` while it is under way (then the socket
 * becomes writable and SO_ERROR says how it ended).
 *
 * @throws {Error} When it failed: errno believed once a second `connect`
 * says the same (see BELIEVED_AFTER); a second `connect` of one under way
 * says so (EALREADY), of one done, EISCONN.
 */
function connectedAfterAll(
  calls: SocketCalls,
  fd: number,
  sockaddr: Uint8Array,
): boolean {
  let code = errno(calls);
  for (let tries = 1; tries < BELIEVED_AFTER; tries++) {
    if (code === EINPROGRESS || code === EALREADY) return false;
    if (code === EISCONN) return true;
    if (calls.connect(fd, sockaddr, sockaddr.length) === 0) return true;
    code = errno(calls);
  }
  if (code === EINPROGRESS || code === EALREADY) return false;
  if (code === EISCONN) return true;
  throw osError(calls, code);
}

function newSocket(calls: SocketCalls, family: number, flags = 0): number {
  const fd = calls.socket(family, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (fd < 0) throw osError(calls, errno(calls));
  return fd;
}

/** Sets an integer socket option to 1; whether that worked. */
function setOption(
  calls: SocketCalls,
  fd: number,
  level: number,
  option: number,
): boolean {
  const one = new Uint8Array(new Int32Array([1]).buffer);
  return calls.setsockopt(fd, level, option, one, 4) === 0;
}

/** The port a TCP socket is bound to. */
function boundPort(calls: SocketCalls, fd: number): number {
  const sockaddr = new Uint8Array(16);
  const size = new Uint32Array([16]);
  calls.getsockname(fd, sockaddr, new Uint8Array(size.buffer));
  return new DataView(sockaddr.buffer).getUint16(2);
}
