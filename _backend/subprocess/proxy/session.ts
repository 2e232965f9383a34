// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The parent's side of the proxies: a session hands the primitives passed
// to one child to an agent (a Worker of this process, see agent.ts) that
// serves them on a Unix socket of its own. A child that sends a primitive
// it made itself has a session too, whose agent acts as that child. This
// module is apart from the launcher so that a child holding proxies loads
// only this much of the backend.
import {
  childTreeState,
  type Identity,
  identity,
} from "../../../_shm/registry.ts";
import {
  encode,
  type Shareable,
  wireContext,
  type WireForm,
} from "../../../_wire.ts";
import { setWorkerRef } from "../../../_deno_compat.ts";
import { type AgentMessage, type AgentReport, proxyForm } from "./protocol.ts";
import { shapeOf } from "./shape.ts";
import { socketDir } from "../socket_dir.ts";
import { ownAuthkey } from "../../../_net/handshake.ts";

const AGENT = new URL("./agent.ts", import.meta.url);

let agents = 0;

const sessions = new Map<string, Session>();

/** The session whose agent listens at `path`, if it is this process's. */
export function sessionAt(path: string): Session | undefined {
  return sessions.get(path);
}

/**
 * The primitives passed to one child in `args`, handed to its agent: the
 * agent is made on the first one, so a child given none has no agent.
 */
export class Session {
  readonly path: string;
  readonly listening: Promise<void>;
  #worker: Worker;
  #next = 1;
  #closed = Promise.withResolvers<void>();

  constructor() {
    this.path = `${socketDir()}/agent-${++agents}.sock`;
    this.#worker = new Worker(AGENT, {
      type: "module",
      name: "multiprocessing agent",
    });
    setWorkerRef(this.#worker, false);
    const listening = Promise.withResolvers<void>();
    this.listening = listening.promise;
    this.#worker.onmessage = (event: MessageEvent<AgentReport>) => {
      if (event.data.t === "listening") listening.resolve();
      if (event.data.t === "closed") this.#closed.resolve();
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      listening.reject(new Error(`The agent failed: ${event.message}`));
      this.#closed.resolve();
    };
    this.#post({ t: "init", path: this.path, authkey: ownAuthkey() });
    sessions.set(this.path, this);
  }

  #post(message: AgentMessage, transfer: Transferable[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Hands `value` to the agent; returns the wire form of its proxy. */
  export(value: Shareable): WireForm {
    const id = this.#next++;
    // The agent is a Worker of this process: it shares its memory.
    const ctx = wireContext();
    const record = encode(value, ctx);
    this.#post({ t: "export", id, record }, ctx.transfer);
    return proxyForm({ path: this.path, id, shape: shapeOf(value) });
  }

  /** Tells the agent whose calls it performs. */
  identify(identity: Identity): void {
    this.#post({ t: "identity", tree: childTreeState(identity) });
  }

  /** Ends the agent once the child ended. */
  async end(): Promise<void> {
    sessions.delete(this.path);
    this.#post({ t: "end" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#closed.promise,
      new Promise((resolve) => timer = setTimeout(resolve, 1000)),
    ]);
    clearTimeout(timer);
    this.#worker.terminate();
  }
}

let own: Session | undefined;

/**
 * Exports a primitive this process made and sends in a call to another
 * process's agent (a child putting its own Lock on its parent's Queue): its
 * agent here acts as this process, and serves it while this process lives.
 */
export function exportOwn(value: Shareable): WireForm {
  if (!own) {
    own = new Session();
    own.identify(identity());
  }
  return own.export(value);
}
