// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Frames on a Unix socket between a parent and its subprocess children.
//
// A frame is a 9-byte header (payload length as a big-endian u32; the
// format, 0 for JSON and 1 for `node:v8`'s structured serialization; a u32
// tag, which RPC uses for the call id so that a reader can route a frame
// without decoding it) and the payload. JSON carries what it can (the common case: control messages and
// plain arguments) because loading `node:v8` costs a fresh Deno process about
// 10 ms; values JSON cannot carry exactly (Map, Date, typed arrays, undefined,
// NaN...) use `node:v8`, loaded on first use.

const JSON_FORMAT = 0;
const V8_FORMAT = 1;
/** Bytes before a frame's payload. */
export const HEADER = 9;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `node:v8`'s serializer, the part of it that frames use. */
export interface V8Codec {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

let v8: V8Codec | undefined;

/** Loads `node:v8` (once). */
export async function loadV8(): Promise<V8Codec> {
  v8 ??= await import("node:v8") as unknown as V8Codec;
  return v8;
}

/**
 * Whether JSON carries `value` exactly: strings, finite numbers (not -0),
 * booleans, null, and dense arrays and plain objects of those.
 */
export function jsonSafe(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !jsonSafe(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      if ("__proto__" in value && proto === null) return false;
      for (const item of Object.values(value)) {
        if (!jsonSafe(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function frame(format: number, payload: Uint8Array, tag: number): Uint8Array {
  const bytes = new Uint8Array(HEADER + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, payload.length);
  bytes[4] = format;
  view.setUint32(5, tag);
  bytes.set(payload, HEADER);
  return bytes;
}

/**
 * One frame holding `value`: JSON when that carries it exactly, else
 * `node:v8` (which must be loaded: see {@linkcode loadV8}).
 */
export function encodeFrame(value: unknown, tag = 0): Uint8Array {
  if (jsonSafe(value)) {
    return frame(JSON_FORMAT, encoder.encode(JSON.stringify(value)), tag);
  }
  if (!v8) throw new Error("node:v8 is not loaded; call loadV8() first");
  return frame(V8_FORMAT, v8.serialize(value), tag);
}

/** The value of a whole frame (as {@linkcode encodeFrame} made it). */
export function decodeFrame(bytes: Uint8Array): unknown {
  return decodePayload(bytes[4], bytes.subarray(HEADER));
}

function decodePayload(format: number, payload: Uint8Array): unknown {
  if (format === JSON_FORMAT) return JSON.parse(decoder.decode(payload));
  if (!v8) throw new Error("node:v8 is not loaded; call loadV8() first");
  // A copy: the typed arrays node:v8 revives are views of the bytes it is
  // given, and a reader reuses its buffer for the frames that follow.
  return v8.deserialize(payload.slice());
}

/** Writes all of `bytes` to `conn`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/** Sends one frame (writes are queued so frames never interleave). */
export class FrameWriter {
  #conn: Deno.Conn;
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Queues `value`; the promise settles when it was written. */
  send(value: unknown, tag = 0): Promise<void> {
    const bytes = encodeFrame(value, tag);
    return this.sendBytes(bytes);
  }

  /** Queues an encoded frame. */
  sendBytes(bytes: Uint8Array): Promise<void> {
    // With nothing before it, the frame is written at once: Deno performs
    // a write that fits in the socket's buffer within the call.
    const next = this.#pending === 0
      ? writeAll(this.#conn, bytes)
      : this.#queue.then(() => writeAll(this.#conn, bytes));
    this.#pending++;
    this.#queue = next.catch(() => {}).finally(() => this.#pending--);
    return next;
  }
}

/** A frame read from a connection. */
export interface Frame {
  tag: number;
  value: unknown;
}

/** The bytes read from a connection, cut into frames. */
class FrameBuffer {
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  /** The next whole frame's format, tag and payload, if one is here. */
  take(): { format: number; tag: number; payload: Uint8Array } | undefined {
    const available = this.#end - this.#start;
    if (available < HEADER) return undefined;
    const buffer = this.#buffer;
    const view = new DataView(buffer.buffer, buffer.byteOffset + this.#start);
    const length = view.getUint32(0);
    if (available < HEADER + length) return undefined;
    const format = buffer[this.#start + 4];
    const tag = view.getUint32(5);
    const payload = buffer.subarray(
      this.#start + HEADER,
      this.#start + HEADER + length,
    );
    this.#start += HEADER + length;
    return { format, tag, payload };
  }

  /** Reads more from `conn`; returns `false` at its end (or failure). */
  async fill(conn: Deno.Conn): Promise<boolean> {
    let buffer = this.#buffer;
    if (this.#start > 0) {
      buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const end = this.#end;
    const need = end >= HEADER
      ? HEADER + new DataView(buffer.buffer, buffer.byteOffset).getUint32(0)
      : HEADER;
    if (buffer.length < need || buffer.length - end < 4096) {
      const bigger = new Uint8Array(Math.max(need, buffer.length * 2));
      bigger.set(buffer.subarray(0, end));
      this.#buffer = buffer = bigger;
    }
    let n: number | null;
    try {
      n = await conn.read(buffer.subarray(end));
    } catch {
      return false;
    }
    if (n === null) return false;
    this.#end += n;
    return true;
  }
}

/**
 * Yields the frames read from `conn` until it closes (or fails: a peer that
 * died is an end too). Loads `node:v8` when a frame needs it.
 */
export async function* readFrames(conn: Deno.Conn): AsyncGenerator<Frame> {
  const frames = new FrameBuffer();
  do {
    for (let frame = frames.take(); frame; frame = frames.take()) {
      if (frame.format === V8_FORMAT) await loadV8();
      yield {
        tag: frame.tag,
        value: decodePayload(frame.format, frame.payload),
      };
    }
  } while (await frames.fill(conn));
}

/**
 * Calls `onFrame` with each frame read from `conn`, as soon as it is read,
 * until the connection closes (or fails); the promise then settles. The
 * callback form of {@linkcode readFrames}, for a hot path: no generator
 * step between the read and the handler.
 */
export async function forEachFrame(
  conn: Deno.Conn,
  onFrame: (frame: Frame) => void,
): Promise<void> {
  const frames = new FrameBuffer();
  do {
    for (let frame = frames.take(); frame; frame = frames.take()) {
      if (frame.format === V8_FORMAT) await loadV8();
      onFrame({
        tag: frame.tag,
        value: decodePayload(frame.format, frame.payload),
      });
    }
  } while (await frames.fill(conn));
}
