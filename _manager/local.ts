// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The way the handles of every thread of the process that runs a Manager's
// server (the thread that started it, and each Worker child at any depth)
// reach that server, which runs in a Worker of the same process: calls and
// answers go through two shared rings per thread (the ones `Queue` uses)
// instead of a socket. Handles in other OS processes use the socket.
//
// Why: a socket's answer reaches Deno's event loop as an I/O event, which
// costs tens of microseconds per round trip on top of the write. A thread
// blocked on shared memory (`Atomics.wait`) is woken by the kernel
// directly, as a blocking socket read in Python is. So each side blocks a
// little while it expects a message: the handles' thread for its answer
// (CLIENT_BLOCK_MS), the server after a call, for the next one
// (SERVER_BLOCK_MS); then the wait parks and the event loop runs. Both
// sides parked (`Atomics.waitAsync` on each) measured slower than a socket
// (50-90 µs a round trip, against 11-15 µs with one side blocked). The
// messages are the same pickles a socket would carry (with a call number
// in front), so a call behaves the same either way.
//
// Before it blocks, each side spins a little (answerBrief) on the word it
// waits on: the answer to a dict's set comes about 10 µs after the call,
// and a program's next call as soon, while waking a thread blocked on the
// other core (the notify, and the sleeper's way back) cost 20-30 µs each
// way at rest, which made a set+get pair 100-120 µs in all, against 25-30
// µs spinning. A peer that must share this thread's core runs only once
// the spin stops, so spins that keep running out rest a while (see Brief).
//
// A thread reaches the server through its door: a `MessagePort` to the
// server's Worker and a few shared cells. The thread that started the
// Manager opens the first; a handle that goes to a Worker takes a door of
// its own along (a new port, whose other end the sender's door hands to
// the server: see Door.passOn), so any thread that gets a handle gets a
// door. On its first call, a thread makes its channel (the two rings) and
// posts it through its door. One channel per thread and server, whatever
// the number of handles: the server serves them all, and waits on one
// word, the door's bell, which every call rings; so an idle channel costs
// it nothing, and a call on any channel ends its wait. A thread's channel
// also carries its references (`create`, `incref`, `decref`), which the
// server gives back, and frees the channel, once the process table says
// the thread ended, however it ended.
import { dumps, loads, tuple } from "../_pickle/pickle.ts";
import {
  encodeBytes,
  type RingState,
  SharedRing,
  WAIT_PUTS,
} from "../_shm/ring.ts";
import {
  answerBrief,
  notify,
  waitUntil,
  waitUntilSync,
  wake,
} from "../_shm/futex.ts";
import { identity, isAlive, WORKER_PID_BASE } from "../_shm/registry.ts";
import { ProcessError } from "../errors.ts";

/**
 * How long the handles' thread blocks for an answer before it parks: most
 * answers come within it. While a call waits longer (a queue's get), each
 * wait for the next answer holds up that thread's event loop this long.
 */
const CLIENT_BLOCK_MS = 0.5;
/**
 * How long the server blocks for the next call after one: a program in a
 * loop of calls sends it within this; the server's sockets wait at most
 * this long meanwhile.
 */
const SERVER_BLOCK_MS = 0.2;
/**
 * How often the server looks for channels whose thread ended, busy or
 * waiting (a parked wait tries again at least this often).
 */
const ENDED_CHECK_MS = 50;

// The door's cells (Int32).
/** Bumped after every call put on any channel: what the server waits on. */
const BELL = 0;
const BELL_SLEEPERS = 1;
/** 0 while the server runs, then {@linkcode SHUT} or {@linkcode FAILED}. */
const STATE = 2;
/** The pid of the thread that started the Manager, whose server ends with it. */
const OWNER = 3;
const DOOR_CELLS = 4;

const SHUT = 1;
const FAILED = 2;

/** A door as it crosses to another thread (see the top of the file). */
export interface DoorForm {
  /** A port to the server's Worker, for this thread alone. */
  port: MessagePort;
  /** The door's cells. */
  cells: SharedArrayBuffer;
}

/** The memory of a channel, posted to the server's Worker. */
export interface LocalChannelState {
  requests: RingState;
  answers: RingState;
  /** The pid of the thread whose channel it is. */
  owner: number;
}

/** What a door's port carries to the server. */
type DoorMessage = { channel: LocalChannelState } | { door: MessagePort };

/** Writes a pickle into `ring`. */
function put(ring: SharedRing, message: unknown): void {
  if (!ring.tryPut(encodeBytes(dumps(message)), 0, false)) {
    throw new RangeError(
      "The message is larger than the manager's channel holds (1 GiB): send less at once",
    );
  }
}

/**
 * Whether this thread sees the process table of the thread that started a
 * Manager: a child of this library's (its parent handed it the table) or
 * the main thread do; a Worker the program made itself has a table of its
 * own, where every Worker child looks ended.
 */
function seesTable(): boolean {
  return identity().parentPid !== null || !("WorkerGlobalScope" in globalThis);
}

/**
 * A thread's way to one server (see the top of the file): its port to the
 * server's Worker, and the channel it makes on first use.
 */
export class Door {
  #port: MessagePort;
  #cells: Int32Array;
  #channel: LocalClient | undefined;
  #seesTable = seesTable();

  /**
   * Opens the door of a new server, in the thread that starts it.
   *
   * @returns This thread's door, and what the server's Worker is given
   * (its port: transfer it).
   */
  static open(): { door: Door; server: DoorForm } {
    const cells = new SharedArrayBuffer(DOOR_CELLS * 4);
    new Int32Array(cells)[OWNER] = identity().pid;
    const { port1, port2 } = new MessageChannel();
    return {
      door: new Door({ port: port1, cells }),
      server: { port: port2, cells },
    };
  }

  /** The door whose form another thread passed on (see passOn). */
  constructor(form: DoorForm) {
    this.#port = form.port;
    this.#cells = new Int32Array(form.cells);
  }

  /** Whether the server is gone (shut down, failed, or its thread ended). */
  get closed(): boolean {
    return this.#gone() !== undefined;
  }

  /** Why the server is gone, if it is; its port is closed then. */
  #gone(): Error | undefined {
    const error = this.#closedError();
    if (error) this.#port.close();
    return error;
  }

  /** Why the server is gone, if it is. */
  #closedError(): Error | undefined {
    const state = Atomics.load(this.#cells, STATE);
    if (state === FAILED) {
      return new ProcessError(
        "The manager's server failed: its objects are gone; start a new Manager",
      );
    }
    if (state === SHUT) return shutDown();
    const owner = this.#cells[OWNER];
    if (this.#seesTable && owner >= WORKER_PID_BASE && !isAlive(owner)) {
      return new ProcessError(
        "The manager ended with the process that started it: its objects are gone; start a new Manager",
      );
    }
    return undefined;
  }

  /** This thread's channel to the server, made and posted on first use. */
  channel(): LocalClient {
    if (!this.#channel) {
      const channel = new LocalClient(this.#cells, () => this.#gone());
      this.#channel = channel;
      if (!this.closed) this.#post({ channel: channel.state });
    }
    return this.#channel;
  }

  /**
   * A door for another thread of this process, with a port of its own:
   * its other end goes to the server through this door.
   *
   * @param transfer Where the new port is added, to be transferred.
   * @returns The door's form, for the other thread.
   */
  passOn(transfer: Transferable[]): DoorForm {
    const { port1, port2 } = new MessageChannel();
    this.#post({ door: port2 }, [port2]);
    transfer.push(port1);
    return { port: port1, cells: this.#cells.buffer as SharedArrayBuffer };
  }

  /**
   * Marks the server gone, in the thread that started it: every thread's
   * calls reject from then on (a waiting one within a slice of its wait),
   * with `error` here when the server failed.
   */
  shut(error?: Error): void {
    // A server that failed stays failed when it is then shut down.
    Atomics.compareExchange(this.#cells, STATE, 0, error ? FAILED : SHUT);
    this.close(error);
  }

  /** Lets go of this door in this thread: its channel and its port. */
  close(error?: Error): void {
    this.#channel?.close(error ?? this.#closedError());
    this.#port.close();
  }

  #post(message: DoorMessage, transfer: Transferable[] = []): void {
    this.#port.postMessage(message, transfer);
  }
}

function shutDown(): ProcessError {
  return new ProcessError(
    "The manager was shut down: its objects are gone; start a new Manager",
  );
}

/**
 * The side of the handles: sends calls, and hands each answer to its
 * caller. Answers are read by one reader while calls wait for them, which
 * spins, then blocks the thread for CLIENT_BLOCK_MS at most (nothing else
 * on it runs meanwhile), then parks, letting the event loop run. A call
 * made while the reader is parked (behind a call that waits on the server,
 * a queue's get) has its answer caught the same brief way, in a microtask,
 * rather than by the parked reader, which an answer wakes only through the
 * event loop.
 */
export class LocalClient {
  #requests = new SharedRing();
  #answers = new SharedRing();
  #bell: Int32Array;
  #gone: () => Error | undefined;
  #brief = answerBrief();
  #pending = new Map<number, PromiseWithResolvers<unknown>>();
  #next = 0;
  #reading = false;
  #parked = false;
  /** The calls made while the reader was parked, whose answers are caught. */
  #caught = new Set<number>();
  #closed = false;
  #failure: Error | undefined;

  /**
   * @param bell The door's cells: a call rings its bell.
   * @param gone Why the server is gone, once it is.
   */
  constructor(bell: Int32Array, gone: () => Error | undefined) {
    this.#bell = bell;
    this.#gone = gone;
  }

  /** What the server's Worker needs to serve this channel. */
  get state(): LocalChannelState {
    return {
      requests: this.#requests.state,
      answers: this.#answers.state,
      owner: identity().pid,
    };
  }

  /**
   * Sends `request` (a `(id, method, args, kwargs)` tuple, as on a
   * socket; `id` is `null` for a function of the server's own) and waits
   * for its answer.
   *
   * @throws {TypeError} When the request cannot be pickled; nothing is sent.
   * @throws {ProcessError} When the server was shut down.
   */
  call(request: unknown[]): Promise<unknown> {
    if (!this.#closed) {
      const gone = this.#gone();
      if (gone) this.close(gone);
    }
    if (this.#closed) return Promise.reject(this.#closedError());
    const number = ++this.#next;
    try {
      // Without empty keyword arguments: a dict costs its reader a pass.
      const [id, method, args, kwargs] = request;
      put(
        this.#requests,
        Object.keys(kwargs as object).length
          ? tuple(number, id, method, args, kwargs)
          : tuple(number, id, method, args),
      );
    } catch (error) {
      return Promise.reject(error);
    }
    wake(this.#bell, BELL, 1, BELL_SLEEPERS);
    const answer = Promise.withResolvers<unknown>();
    this.#pending.set(number, answer);
    if (!this.#reading) this.#read();
    else if (this.#parked) {
      // After the calls made in this turn are all sent.
      if (this.#caught.size === 0) queueMicrotask(() => this.#catch());
      this.#caught.add(number);
    }
    return answer.promise;
  }

  /** Hands out answers while calls wait for them. */
  async #read(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#pending.size > 0) {
        const bytes = this.#takeBriefly() ?? await this.#park();
        if (bytes) this.#hand(bytes);
        else if (this.#closed) return;
      }
    } catch (error) {
      this.#fail(error as Error);
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Hands out answers while calls made with the reader parked wait for
   * them, as long as each comes within a brief wait.
   */
  #catch(): void {
    try {
      while (this.#caught.size > 0) {
        const bytes = this.#takeBriefly();
        if (!bytes) break;
        this.#hand(bytes);
      }
    } catch (error) {
      this.#fail(error as Error);
    }
    this.#caught.clear();
    // A reader parked for answers no call waits for any more stops.
    if (this.#pending.size === 0) notify(this.#answers.cells, WAIT_PUTS);
  }

  /** The next answer if it comes within a spin and a short block. */
  #takeBriefly(): Uint8Array | undefined {
    const ring = this.#answers;
    const { cells } = ring;
    let taken: Uint8Array | undefined;
    const attempt = () => {
      taken = ring.tryGet()?.value as Uint8Array | undefined;
      return taken !== undefined;
    };
    const seen = Atomics.load(cells, WAIT_PUTS);
    if (attempt()) return taken;
    if (this.#brief.spin(cells, WAIT_PUTS, seen) && attempt()) return taken;
    const deadline = performance.now() + CLIENT_BLOCK_MS;
    const sleepers = ring.waitersOf(WAIT_PUTS);
    waitUntilSync(cells, WAIT_PUTS, deadline, attempt, sleepers);
    return taken;
  }

  /**
   * Waits for the next answer with the event loop running; `undefined`
   * once no call waits for one, or the channel closed (or found the server
   * gone: looked at after each wake-up, at least once a slice).
   */
  async #park(): Promise<Uint8Array | undefined> {
    const ring = this.#answers;
    let taken: Uint8Array | undefined;
    let gone: Error | undefined;
    const attempt = () => {
      taken = ring.tryGet()?.value as Uint8Array | undefined;
      return taken !== undefined || this.#pending.size === 0 ||
        this.#closed || (gone = this.#gone()) !== undefined;
    };
    const sleepers = ring.waitersOf(WAIT_PUTS);
    this.#parked = true;
    try {
      await waitUntil(ring.cells, WAIT_PUTS, Infinity, attempt, sleepers);
    } finally {
      this.#parked = false;
    }
    if (!taken && gone) this.close(gone);
    return taken;
  }

  /** Resolves the call that `bytes` answers. */
  #hand(bytes: Uint8Array): void {
    const [number, answer] = loads(bytes) as [number, unknown];
    const pending = this.#pending.get(number);
    this.#pending.delete(number);
    this.#caught.delete(number);
    pending?.resolve(answer);
  }

  /**
   * Stops the channel: waiting calls and later ones reject, with `error`
   * when the server failed, else as shut down.
   */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failure = error;
    this.#fail(this.#closedError());
    // Wakes a reader and the server, so that they look at what changed.
    this.#answers.wakeAll();
    this.#requests.wakeAll();
  }

  #fail(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #closedError(): Error {
    return this.#failure ?? shutDown();
  }
}

/** What the server does with the calls of its channels. */
export interface LocalHandler<Context> {
  /** What a new channel is to the handler (its caller, its references). */
  open(): Context;
  /**
   * The answer to `request` (a `(id, method, args, kwargs)` tuple), at
   * once or a promise of it; a failure is an answer: it never throws.
   */
  answer(request: unknown[], channel: Context): unknown;
  /** The thread of `channel` ended: gives back what it holds. */
  ended(channel: Context): void;
  /** The answer in place of one that cannot be pickled. */
  unserializable(answer: unknown): unknown;
}

/** A channel as the server serves it. */
interface Served<Context> {
  requests: SharedRing;
  answers: SharedRing;
  owner: number;
  context: Context;
  dropped: boolean;
}

/**
 * The side of the server: serves the channels that come through its doors,
 * calls on each side by side, as calls on separate connections are
 * answered. Serves until the Worker ends.
 */
export class LocalServer<Context> {
  #cells: Int32Array;
  #handler: LocalHandler<Context>;
  #channels = new Set<Served<Context>>();
  #brief = answerBrief();
  /** Answers still to come: the thread must not block while they are. */
  #outstanding = 0;
  #checkedAt = 0;

  /**
   * @param door The door the thread that started the server opened.
   * @param handler What answers.
   */
  constructor(door: DoorForm, handler: LocalHandler<Context>) {
    this.#cells = new Int32Array(door.cells);
    this.#handler = handler;
    this.#listen(door.port);
  }

  /** Serves the channels and doors that come through `port`. */
  #listen(port: MessagePort): void {
    port.onmessage = (event: MessageEvent<DoorMessage>) => {
      const message = event.data;
      if ("door" in message) this.#listen(message.door);
      else this.#add(message.channel);
    };
  }

  #add(state: LocalChannelState): void {
    this.#channels.add({
      requests: new SharedRing(state.requests),
      answers: new SharedRing(state.answers),
      owner: state.owner,
      context: this.#handler.open(),
      dropped: false,
    });
    // Its first call may be there already.
    wake(this.#cells, BELL, 1, BELL_SLEEPERS);
  }

  /** Answers calls until the Worker ends. */
  async serve(): Promise<void> {
    for (;;) {
      // Busy or not, the threads that ended are looked for now and then.
      this.#dropEndedNow();
      const seen = Atomics.load(this.#cells, BELL);
      if (this.#answerEach()) continue;
      await this.#wait(seen);
    }
  }

  /**
   * Answers the first call of each channel that has one, so that a busy
   * channel holds up no other.
   *
   * @returns Whether there was any.
   */
  #answerEach(): boolean {
    let any = false;
    for (const channel of this.#channels) {
      if (channel.requests.count() === 0) continue;
      // As in #reply: a thread that ended is not waited for.
      if (!isAlive(channel.owner)) {
        this.#drop(channel);
        continue;
      }
      const bytes = channel.requests.tryGet()?.value as Uint8Array | undefined;
      if (!bytes) continue;
      any = true;
      this.#answer(channel, bytes);
    }
    return any;
  }

  #answer(channel: Served<Context>, bytes: Uint8Array): void {
    const [number, id, method, args, kwargs] = loads(bytes) as unknown[];
    const result = this.#handler.answer(
      tuple(id, method, args, kwargs ?? {}),
      channel.context,
    );
    if (result instanceof Promise) {
      this.#outstanding++;
      result.then((settled) => {
        this.#outstanding--;
        this.#reply(channel, number, settled);
      });
    } else this.#reply(channel, number, result);
  }

  #reply(channel: Served<Context>, number: unknown, result: unknown): void {
    if (channel.dropped) return;
    // A thread that ended may have been stopped holding its ring's lock:
    // the process table says so before it is stopped.
    if (!isAlive(channel.owner)) {
      this.#drop(channel);
      return;
    }
    try {
      put(channel.answers, tuple(number, result));
    } catch (error) {
      put(
        channel.answers,
        tuple(
          number,
          error instanceof TypeError
            ? this.#handler.unserializable(result)
            : tuple("#TRACEBACK", `${(error as Error).message}\n`),
        ),
      );
    }
  }

  /**
   * Waits for the bell to ring after `seen`: spins a little first, and
   * blocks a little unless answers are still to come (a call that waits on
   * the server: its answer may need the event loop), then parks, looking
   * at whose thread ended now and then.
   */
  async #wait(seen: number): Promise<void> {
    const cells = this.#cells;
    const waiting = () => this.#waiting();
    // A spin that catches the next call on any channel, as a call waiting
    // on another does not hold up the rest; the spin rests when it keeps
    // missing (see Brief).
    if (this.#brief.spin(cells, BELL, seen)) return;
    if (this.#outstanding === 0) {
      const deadline = performance.now() + SERVER_BLOCK_MS;
      if (waitUntilSync(cells, BELL, deadline, waiting, BELL_SLEEPERS)) return;
    }
    await waitUntil(cells, BELL, Infinity, () => {
      this.#dropEndedNow();
      return waiting();
    }, BELL_SLEEPERS);
  }

  /** Whether a call waits on any channel. */
  #waiting(): boolean {
    for (const channel of this.#channels) {
      if (channel.requests.count() > 0) return true;
    }
    return false;
  }

  /**
   * Drops the channels whose thread ended, unless it looked less than
   * ENDED_CHECK_MS ago.
   */
  #dropEndedNow(): void {
    const now = performance.now();
    if (now - this.#checkedAt < ENDED_CHECK_MS) return;
    this.#checkedAt = now;
    for (const channel of this.#channels) {
      if (!isAlive(channel.owner)) this.#drop(channel);
    }
  }

  /** Stops serving `channel`, and gives back what its thread held. */
  #drop(channel: Served<Context>): void {
    this.#channels.delete(channel);
    channel.dropped = true;
    this.#handler.ended(channel.context);
  }
}
