// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The way the handles of the thread that started a Manager reach its
// server, which runs in a Worker of the same process: calls and answers go
// through two shared rings (the ones `Queue` uses) instead of a socket.
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
// in front), so a call behaves the same either way; handles in any other
// process (or thread) use the socket.
//
// Before it blocks, each side spins a little (answerBrief) on the ring's put
// count: the answer to a dict's set comes about 10 µs after the call, and
// a program's next call as soon, while waking a thread blocked on the
// other core (the notify, and the sleeper's way back) cost 20-30 µs each
// way at rest, which made a set+get pair 100-120 µs in all, against 25-30
// µs spinning. A peer that must share this thread's core runs only once
// the spin stops, so spins that keep running out rest a while (see Brief).
import { dumps, loads, tuple } from "../_pickle/pickle.ts";
import {
  encodeBytes,
  type RingState,
  SharedRing,
  WAIT_PUTS,
} from "../_shm/ring.ts";
import {
  answerBrief,
  type Brief,
  waitUntil,
  waitUntilSync,
} from "../_shm/futex.ts";
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

/** The memory of a channel, posted to the server's Worker. */
export interface LocalChannelState {
  requests: RingState;
  answers: RingState;
}

/** Writes a pickle into `ring`. */
function put(ring: SharedRing, message: unknown): void {
  if (!ring.tryPut(encodeBytes(dumps(message)), 0, false)) {
    throw new RangeError(
      "The message is larger than the manager's channel holds (1 GiB): send less at once",
    );
  }
}

/**
 * Waits for the next pickle in `ring` and reads it, or returns `undefined`
 * once `stopped()` says so (looked at after every wake-up). With a
 * `blockMs`, the thread spins as `brief` says, then blocks for `blockMs`
 * at most (nothing else on it runs meanwhile); then the wait parks,
 * letting the event loop run.
 */
async function take(
  ring: SharedRing,
  brief: Brief,
  blockMs: number,
  stopped: () => boolean = () => false,
): Promise<Uint8Array | undefined> {
  let taken: Uint8Array | undefined;
  const attempt = () => {
    if (stopped()) return true;
    taken = ring.tryGet()?.value as Uint8Array | undefined;
    return taken !== undefined;
  };
  const { cells } = ring;
  const sleepers = ring.waitersOf(WAIT_PUTS);
  if (blockMs > 0) {
    const seen = Atomics.load(cells, WAIT_PUTS);
    if (attempt()) return taken;
    if (brief.spin(cells, WAIT_PUTS, seen) && attempt()) return taken;
    const deadline = performance.now() + blockMs;
    if (waitUntilSync(cells, WAIT_PUTS, deadline, attempt, sleepers)) {
      return taken;
    }
  }
  await waitUntil(cells, WAIT_PUTS, Infinity, attempt, sleepers);
  return taken;
}

/** The side of the handles: sends calls, and hands each answer to its caller. */
export class LocalClient {
  #requests: SharedRing;
  #answers: SharedRing;
  #brief = answerBrief();
  #pending = new Map<number, PromiseWithResolvers<unknown>>();
  #next = 0;
  #reading = false;
  #closed = false;
  #failure: Error | undefined;

  constructor() {
    this.#requests = new SharedRing();
    this.#answers = new SharedRing();
  }

  /** What the server's Worker needs to serve this channel. */
  get state(): LocalChannelState {
    return { requests: this.#requests.state, answers: this.#answers.state };
  }

  /**
   * Sends `request` (a `(id, method, args, kwargs)` tuple, as on a
   * socket) and waits for its answer.
   *
   * @throws {TypeError} When the request cannot be pickled; nothing is sent.
   * @throws {ProcessError} When the server was shut down.
   */
  call(request: unknown[]): Promise<unknown> {
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
    const answer = Promise.withResolvers<unknown>();
    this.#pending.set(number, answer);
    if (!this.#reading) this.#read();
    return answer.promise;
  }

  /** Hands out answers while calls wait for them. */
  async #read(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#pending.size > 0) {
        const bytes = await take(
          this.#answers,
          this.#brief,
          CLIENT_BLOCK_MS,
          () => this.#closed,
        );
        if (!bytes) return;
        const [number, answer] = loads(bytes) as [number, unknown];
        const pending = this.#pending.get(number);
        this.#pending.delete(number);
        pending?.resolve(answer);
      }
    } catch (error) {
      this.#fail(error as Error);
    } finally {
      this.#reading = false;
    }
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
    return this.#failure ?? new ProcessError(
      "The manager was shut down: its objects are gone; start a new Manager",
    );
  }
}

/**
 * The side of the server: answers each call with `answer` (at once, or a
 * promise of it), and calls run side by side, as calls on separate
 * connections do. `answer` never throws: a failure is an answer;
 * `unserializable` is the answer in place of one that cannot be pickled.
 * Serves until the Worker ends.
 */
export async function serveLocal(
  state: LocalChannelState,
  answer: (request: unknown) => unknown,
  unserializable: (answer: unknown) => unknown,
): Promise<void> {
  const requests = new SharedRing(state.requests);
  const answers = new SharedRing(state.answers);
  const brief = answerBrief();
  /** Answers still to come: the thread must not block while they are. */
  let outstanding = 0;
  const reply = (number: unknown, result: unknown) => {
    try {
      put(answers, tuple(number, result));
    } catch (error) {
      put(
        answers,
        tuple(
          number,
          error instanceof TypeError
            ? unserializable(result)
            : tuple("#TRACEBACK", `${(error as Error).message}\n`),
        ),
      );
    }
  };
  for (;;) {
    const bytes = await take(
      requests,
      brief,
      outstanding === 0 ? SERVER_BLOCK_MS : 0,
    );
    const [number, id, method, args, kwargs] = loads(bytes!) as unknown[];
    const result = answer(tuple(id, method, args, kwargs ?? {}));
    if (result instanceof Promise) {
      outstanding++;
      result.then((settled) => {
        outstanding--;
        reply(number, settled);
      });
    } else reply(number, result);
  }
}
