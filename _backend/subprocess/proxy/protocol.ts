// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What the two ends of a proxied call agree on: the proxy's wire form, the
// frames a client sends to a home agent and the agent's answers (each frame
// of channel.ts, tagged with the call's id), and the messages between a
// process's main thread and the agents it starts. client.ts is one end,
// agent.ts the other; neither imports the other for these.
import type { ErrorData } from "../../../_error.ts";
import type { TreeState } from "../../../_shm/registry.ts";
import type { WireForm } from "../../../_wire.ts";
import type { Shape } from "./shape.ts";

/** The kind under which proxies cross the wire. */
export const PROXY_KIND = "multiprocessing.SubprocessProxy";
/** The module that revives proxies (it loads `node:v8`, so it is apart). */
export const PROXY_MODULE: string = new URL("./client.ts", import.meta.url)
  .href;

/** What a proxy's wire form holds. */
export interface ProxyState {
  /** The home agent's socket. */
  path: string;
  /** The object's number in the agent's table. */
  id: number;
  shape: Shape;
}

/** The wire form of the proxy of the object `state` names. */
export function proxyForm(state: ProxyState): WireForm {
  return { kind: PROXY_KIND, module: PROXY_MODULE, state };
}

/**
 * How the caller waits: blocking for the final answer, blocking for a
 * first answer that may be "pending", or not at all.
 */
export type Mode = "wait" | "probe" | "async";

/** What a call does to its object's member. */
export type Op = "call" | "get" | "set";

/** A call as it is sent to the agent. */
export interface Request {
  /** The object's id. */
  o: number;
  op: Op;
  /** Member name (`@@name` for well-known symbols, digits for elements). */
  n: string;
  a: unknown[];
  m: Mode;
}

/**
 * An answer: a value (none is `undefined`), an error, or "a promise; the
 * value comes later".
 */
export type Reply = { ok?: unknown } | { err: ErrorData } | {
  pending: true;
};

/** Messages from a process's main thread to an agent it started. */
export type AgentMessage =
  | { t: "init"; path: string; authkey: Uint8Array }
  | { t: "export"; id: number; record: unknown }
  | { t: "identity"; tree: TreeState }
  | { t: "end" };

/** Messages from an agent to the main thread that started it. */
export type AgentReport = { t: "listening" } | { t: "closed" };

/**
 * The objects that this thread serves as a home agent, by socket path: a
 * proxy that comes back to its home revives as the object itself.
 */
export const served: Map<string, Map<number, unknown>> = new Map();
