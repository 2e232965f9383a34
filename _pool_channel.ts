// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The channel between a Pool and one of its Worker children: a MessagePort
// that can be passed in a child's args, with what the pool needs on top of
// it: messages go through the wire encoding (so primitives inside tasks and
// results arrive as working handles), the pool's end stops keeping the
// program alive while the pool is idle, and once the child has ended the
// pool's end reads every message the child sent before it reports EOF, so a
// result sent just before a death is never taken for a lost task.
import { EOFError } from "./errors.ts";
import {
  decode,
  encode,
  ownerEnded,
  registerKind,
  type Shareable,
  toWire,
  type WireContext,
  wireContext,
  type WireForm,
} from "./_wire.ts";

const KIND = "multiprocessing.PoolChannel";

/** A port with the ref/unref methods Deno has but its types do not name. */
type RefPort = MessagePort & { ref?(): void; unref?(): void };

/** One end of the channel; both ends are this class. */
export class PoolChannel implements Shareable {
  #port: RefPort;
  // [0]: messages sent by end 0, [1]: by end 1. Each end counts its sends
  // after posting, so the other end knows how many to expect at the peer's
  // end.
  #counts: Int32Array;
  #side: 0 | 1;
  #received = 0;
  #inbox: unknown[] = [];
  #waiter:
    | { resolve: (value: unknown) => void; reject: (error: unknown) => void }
    | undefined;
  #peerEnded = false;
  #closed = false;
  #peer: PoolChannel | undefined;
  #listening = false;

  /** Makes both ends: the first stays here, the second goes to a child. */
  static pair(): [PoolChannel, PoolChannel] {
    const { port1, port2 } = new MessageChannel();
    const counts = new Int32Array(new SharedArrayBuffer(8));
    const here = new PoolChannel(port1, counts, 0);
    here.#listen();
    const there = new PoolChannel(port2, counts, 1);
    there.#peer = here;
    return [here, there];
  }

  private constructor(port: MessagePort, counts: Int32Array, side: 0 | 1) {
    this.#port = port;
    this.#counts = counts;
    this.#side = side;
  }

  /**
   * Starts taking messages. Not done at construction: a port that listens
   * can no longer be transferred, and one end is made to be transferred.
   */
  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    this.#port.onmessage = (event) => {
      this.#received++;
      if (this.#waiter) {
        const { resolve } = this.#waiter;
        this.#waiter = undefined;
        resolve(event.data);
      } else {
        this.#inbox.push(event.data);
      }
      this.#checkEnd();
    };
  }

  /** Sends a value (wire-encoded, then structured-cloned). */
  send(value: unknown): void {
    const ctx = wireContext("worker");
    const encoded = encode(value, ctx);
    this.#port.postMessage(encoded, ctx.transfer);
    Atomics.add(this.#counts, this.#side, 1);
  }

  /** The next message; rejects with `EOFError` once the peer ended and all it sent was read. */
  async recv(): Promise<unknown> {
    this.#listen();
    const raw = this.#inbox.length
      ? this.#inbox.shift()
      : await new Promise((resolve, reject) => {
        if (this.#closed || this.#drained()) {
          reject(new EOFError("The pool worker's channel is closed"));
          return;
        }
        this.#waiter = { resolve, reject };
      });
    return await decode(raw);
  }

  /** Lets the program end while this end waits (the pool is idle). */
  unref(): void {
    this.#port.unref?.();
  }

  /** Keeps the program alive while this end waits (tasks are running). */
  ref(): void {
    this.#port.ref?.();
  }

  /** Closes this end; a pending `recv` rejects with `EOFError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.onmessage = null;
    this.#port.close();
    this.#inbox = [];
    this.#fail();
  }

  /** Tells this end that the peer's process ended: EOF after the drain. */
  peerEnded(): void {
    this.#peerEnded = true;
    this.#checkEnd();
  }

  [toWire](ctx: WireContext): WireForm {
    ctx.transfer.push(this.#port);
    return {
      kind: KIND,
      module: import.meta.url,
      state: { port: this.#port, counts: this.#counts, side: this.#side },
    };
  }

  [ownerEnded](): void {
    this.#peer?.peerEnded();
  }

  #drained(): boolean {
    return this.#peerEnded &&
      this.#received >= Atomics.load(this.#counts, 1 - this.#side);
  }

  #checkEnd(): void {
    if (this.#waiter && this.#inbox.length === 0 && this.#drained()) {
      this.#fail();
    }
  }

  #fail(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new EOFError("The pool worker ended"));
  }

  static {
    registerKind(KIND, (state) => {
      const { port, counts, side } = state as {
        port: MessagePort;
        counts: Int32Array;
        side: 0 | 1;
      };
      return new PoolChannel(port, counts, side);
    });
  }
}
