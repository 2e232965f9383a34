// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The agent of one subprocess child in its parent: a Worker that holds the
// primitives passed to that child (as a Worker child would, so it works on
// their SharedArrayBuffers) and performs the child's calls on them. It acts
// with the child's pid as its identity, so that a lock taken for the child
// is owned by the child, and freed when the child dies. Being a thread of
// its own, it can block in a `*Sync` call without freezing the parent.
/// <reference lib="deno.worker" />
import { errorToData } from "../../../_error.ts";
import {
  type AgentMessage,
  type AgentReport,
  proxyForm,
  type Reply,
  type Request,
  served,
} from "./protocol.ts";
import { shapeOf, SYMBOLS } from "./shape.ts";
import { connChannel, serverHandshake } from "../../../_net/handshake.ts";
// Revives the proxies that come in a call's arguments.
import "./client.ts";
import { adoptTreeState, identity, markEnded } from "../../../_shm/registry.ts";
import { giveBackFor } from "../../../_shm/give_back.ts";
import {
  encodeFrame,
  encodeFrameParts,
  forEachFrame,
  type Frame,
  FrameWriter,
} from "../channel.ts";
import {
  crossesProcesses,
  decode,
  decodeSync,
  encode,
  freeBuffer,
  isTransient,
  ownerEnded,
  type Shareable,
  toWire,
  wireContext,
  type WireForm,
} from "../../../_wire.ts";

let path = "";
// The process tree's authkey, which every connection must prove it holds.
let authkey: Uint8Array | undefined;
let listener: Deno.Listener | undefined;
const table = new Map<number, unknown>();
const arriving = new Map<number, Promise<unknown>>();
const ownExports: unknown[] = [];
const conns = new Set<Deno.Conn>();
// Ids the agent gives to objects it exports itself (results of calls)
// start far from the parent's, so the two never meet.
let nextId = 1 << 24;
const identified = Promise.withResolvers<void>();

// An object exported again (a Value's lock, returned by each getLock())
// keeps its first id: the child's proxy of it is made once, and the table
// does not grow with every call.
const exportedForms = new WeakMap<object, WireForm>();

function exportLocal(value: object): WireForm {
  const known = exportedForms.get(value);
  if (known) return known;
  const id = nextId++;
  table.set(id, value);
  arriving.set(id, Promise.resolve(value));
  ownExports.push(value);
  const form = proxyForm({ path, id, shape: shapeOf(value) });
  exportedForms.set(value, form);
  return form;
}

/** A handle that encodes as a proxy of `value`, exported here. */
function exported(value: object): Shareable {
  return {
    [crossesProcesses]: true,
    [toWire]: () => exportLocal(value),
  };
}

/** Whether `value` is data the structured clone copies whole. */
function isData(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    // A plain object with a method (a disposable scope) is behaviour.
    return !Reflect.ownKeys(value).some((key) =>
      typeof (value as Record<PropertyKey, unknown>)[key] === "function"
    );
  }
  if (ArrayBuffer.isView(value)) {
    // A view of shared memory (an Array's `.array`) would arrive as a
    // stale copy: it crosses as a proxy, whose elements are live.
    return !(value.buffer instanceof SharedArrayBuffer);
  }
  return Array.isArray(value) || value instanceof Map ||
    value instanceof Set || value instanceof Date ||
    value instanceof RegExp || value instanceof Error ||
    value instanceof ArrayBuffer || value instanceof Boolean ||
    value instanceof Number || value instanceof String;
}

/** The frame of a call's answer, in parts (see encodeFrameParts). */
function encodeResult(value: unknown, tag: number): Uint8Array[] {
  // The common answers (nothing, a boolean, a number) need no walk; an
  // `undefined` goes as a reply without `ok`, which JSON carries.
  if (value === undefined) return [encodeFrame({}, tag)];
  if (typeof value !== "object" && typeof value !== "function") {
    return [encodeFrame({ ok: value } satisfies Reply, tag)];
  }
  const ctx = wireContext("subprocess", exportLocal);
  ctx.liftViews = true; // node:v8 writes a typed array slowly, a buffer fast
  if (
    typeof value === "object" && value !== null && !isData(value) &&
    !(value as Shareable)[crossesProcesses]
  ) {
    return [encodeFrame({ ok: encode(exported(value), ctx) }, tag)];
  }
  const encoded = encode(value, ctx);
  try {
    return encodeFrameParts({ ok: encoded } satisfies Reply, tag, ctx.buffers);
  } catch (error) {
    // An object with behaviour (an iterator, a disposable scope) crosses
    // as a proxy of itself.
    if (typeof value !== "object" || value === null) throw error;
    return [encodeFrame({ ok: encode(exported(value), ctx) }, tag)];
  }
}

function member(name: string): PropertyKey {
  return SYMBOLS[name] ?? name;
}

/** The method to run: a `*Sync` call runs its async twin, so this thread
 * keeps serving the child's other calls (the child waits either way). */
function methodOf(
  target: Record<PropertyKey, unknown>,
  name: string,
  mode: Request["m"],
): (...args: unknown[]) => unknown {
  if (mode === "wait" && name.endsWith("Sync")) {
    const twin = target[name.slice(0, -4)];
    if (typeof twin === "function") return twin as () => unknown;
  }
  const fn = target[member(name)];
  if (typeof fn !== "function") {
    throw new TypeError(
      `${name} is not a method of this ${
        (target as { constructor?: { name?: string } }).constructor?.name ??
          "object"
      }`,
    );
  }
  return fn as () => unknown;
}

/**
 * Performs a call and writes its answer. The large buffers that came with
 * the call (`brought`, read for it alone) and those of its answer that the
 * callee made for it alone are freed once the answer is written: the
 * library's primitives copy what they are given before their call settles,
 * and a prompt free lets the next large message reuse that memory instead
 * of fresh memory, which is slow to touch (see channel.ts).
 */
function perform(
  request: Request,
  target: Record<PropertyKey, unknown>,
  tag: number,
  writer: FrameWriter,
  brought?: ArrayBuffer[],
): Promise<void> {
  const answered = performAndAnswer(request, target, tag, writer);
  if (!brought) return answered;
  return answered.finally(() => {
    for (const buffer of brought) freeBuffer(buffer);
  });
}

async function performAndAnswer(
  request: Request,
  target: Record<PropertyKey, unknown>,
  tag: number,
  writer: FrameWriter,
): Promise<void> {
  let parts: Uint8Array[];
  let result: unknown;
  try {
    const args = decodeSync(request.a) as unknown[];
    if (request.op === "get") {
      result = target[member(request.n)];
    } else if (request.op === "set") {
      target[member(request.n)] = args[0];
    } else {
      result = methodOf(target, request.n, request.m).apply(target, args);
    }
    if (
      typeof (result as PromiseLike<unknown>)?.then === "function"
    ) {
      if (request.m === "probe") {
        writer.sendBytes(encodeFrame({ pending: true } satisfies Reply, tag));
      }
      result = await result;
    }
    parts = encodeResult(result, tag);
  } catch (error) {
    const bytes = encodeFrame({ err: errorToData(error) } satisfies Reply, tag);
    await writer.sendBytes(bytes).catch(() => {});
    return;
  }
  // A child that died while its call waited here cannot take the answer:
  // what the call took goes back (an item to its queue, a unit to its
  // semaphore). A child that died after the answer was written had it.
  const delivered = await writer.sendParts(parts).then(() => true, () => false);
  if (!delivered && request.op === "call") {
    giveBackFor(target, request.n, result);
    return;
  }
  for (const part of parts.slice(1)) {
    if (isTransient(part.buffer)) freeBuffer(part.buffer);
  }
}

/**
 * Starts the call in `frame`; returns a promise only when its object is
 * still arriving (a call starts once its object is there).
 */
function dispatch(
  { tag, value, buffers }: Frame,
  writer: FrameWriter,
): Promise<void> | undefined {
  const request = value as Request;
  const target = table.get(request.o);
  if (target !== undefined) {
    perform(
      request,
      target as Record<PropertyKey, unknown>,
      tag,
      writer,
      buffers,
    );
    return undefined;
  }
  return (async () => {
    try {
      const arrived = await arriving.get(request.o);
      if (arrived === undefined) {
        throw new ReferenceError(`No object ${request.o} is served here`);
      }
      perform(
        request,
        arrived as Record<PropertyKey, unknown>,
        tag,
        writer,
        buffers,
      );
    } catch (error) {
      writer.send({ err: errorToData(error) } satisfies Reply, tag);
    }
  })();
}

async function serve(conn: Deno.Conn): Promise<void> {
  try {
    await serverHandshake(connChannel(conn), authkey!);
  } catch {
    // Not one of ours: it learns nothing, and its end is not the child's.
    conn.close();
    return;
  }
  conns.add(conn);
  const writer = new FrameWriter(conn);
  await identified.promise;
  // What the parent passed in `args` is revived before the first call, so
  // that a call's arguments can name any of it.
  await Promise.allSettled(arriving.values());
  // Calls start in the order they came: behind one whose object is still
  // arriving, the next ones wait (each call, once started, runs on its own:
  // a call that waits must not hold up the next one).
  let backlog: Promise<void> | undefined;
  const settle = (waiting: Promise<void>) => {
    backlog = waiting;
    waiting.then(() => {
      if (backlog === waiting) backlog = undefined;
    });
  };
  await forEachFrame(conn, (frame) => {
    if (backlog) settle(backlog.then(() => dispatch(frame, writer)));
    else {
      const waiting = dispatch(frame, writer);
      if (waiting) settle(waiting);
    }
  });
  conns.delete(conn);
  // The child's own connection lasts as long as the child: when the last
  // one closes, the child has ended. Saying so here, and not only when the
  // parent's main thread hears of it, lets a parent blocked in a *Sync call
  // see a lock or a pipe end of the dead child freed.
  if (conns.size === 0) markEnded(identity().pid);
}

async function accept(): Promise<void> {
  try {
    for await (const conn of listener!) serve(conn);
  } catch {
    // closed at the end
  }
}

function end(): void {
  const pid = identity().pid;
  for (const value of ownExports) {
    try {
      (value as Partial<Shareable>)[ownerEnded]?.(pid);
    } catch {
      // the child is gone either way
    }
  }
  listener?.close();
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  self.postMessage({ t: "closed" } satisfies AgentReport);
}

self.onmessage = (event: MessageEvent<AgentMessage>) => {
  const message = event.data;
  switch (message.t) {
    case "init":
      path = message.path;
      authkey = message.authkey;
      served.set(path, table);
      listener = Deno.listen({ transport: "unix", path });
      accept();
      self.postMessage({ t: "listening" } satisfies AgentReport);
      break;
    case "export": {
      // Revived once the identity is known: a primitive may record its
      // holder's pid when it is revived.
      const { id, record } = message;
      const value = identified.promise.then(() => decode(record));
      arriving.set(id, value);
      value.then((object) => table.set(id, object), () => {});
      break;
    }
    case "identity":
      adoptTreeState(message.tree);
      identified.resolve();
      break;
    case "end":
      end();
      break;
  }
};
