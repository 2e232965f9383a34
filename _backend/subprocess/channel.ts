// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Frames on a Unix socket between a parent and its subprocess children.
//
// A frame is a 9-byte header (payload length as a big-endian u32; the
// format, 0 for JSON, 1 for `node:v8`'s structured serialization, 2 for
// that with its large buffers after it; a u32 tag, which RPC uses for the
// call id so that a reader can route a frame without decoding it) and the
// payload. JSON carries what it can (the common case: control messages and
// plain arguments) because loading `node:v8` costs a fresh Deno process about
// 10 ms; values JSON cannot carry exactly (Map, Date, typed arrays, undefined,
// NaN...) use `node:v8`, loaded on first use.
//
// A value that JSON carries but for its small buffers (a `Uint8Array`
// argument or answer: `node:v8` takes tens of microseconds to write or read
// even a short one) goes as JSON with the buffers after the text (format
// 3): in the text, an object whose one key is BUFFER_KEY stands for the
// buffer of that index. The layout is format 2's, but the reader finds the
// buffers in the payload, as for a frame of any other format.
//
// Large buffers (format 2) travel beside their value's serialization, not
// inside it: the payload is a u32 count of buffers, each one's length (u32),
// the serialization (which names each buffer by its index) and then the
// buffers' bytes. A writer sends those bytes from where they are, and a
// reader reads them from the socket straight into the buffers the value
// gets: every other copy of a large message costs fresh memory, which this
// machine's kernel hands out slowly (about 3 ms a MiB on first touch, where
// a copy into memory in use takes 0.03 ms).

import { jsonExact } from "../../_json.ts";

const JSON_FORMAT = 0;
const V8_FORMAT = 1;
const SPLIT_FORMAT = 2;
const JSON_BUFFERS_FORMAT = 3;
/** The key of the object that stands for a buffer in format 3's text. */
const BUFFER_KEY = "\u0000buffer";
/** A buffer this large travels beside its value's serialization. */
export const SPLIT_BYTES = 64 * 1024;
/** Bytes before a frame's payload. */
export const HEADER = 9;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `node:v8`'s serializer, the part of it that frames use. */
export interface V8Codec {
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
  DefaultSerializer: new () => {
    writeHeader(): void;
    writeValue(value: unknown): void;
    transferArrayBuffer(id: number, buffer: ArrayBuffer): void;
    releaseBuffer(): Uint8Array;
  };
  DefaultDeserializer: new (bytes: Uint8Array) => {
    readHeader(): boolean;
    readValue(): unknown;
    transferArrayBuffer(id: number, buffer: ArrayBuffer): void;
  };
}

let v8: V8Codec | undefined;

/** Loads `node:v8` (once). */
export async function loadV8(): Promise<V8Codec> {
  v8 ??= await import("node:v8") as unknown as V8Codec;
  return v8;
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
  if (jsonExact(value)) {
    return frame(JSON_FORMAT, encoder.encode(JSON.stringify(value)), tag);
  }
  if (!v8) throw new Error("node:v8 is not loaded; call loadV8() first");
  return frame(V8_FORMAT, v8.serialize(value), tag);
}

/**
 * One frame holding `value`, in parts to write one after the other: as
 * {@linkcode encodeFrame}, but each of `buffers` (the `ArrayBuffer`s
 * inside `value`, as {@linkcode WireContext} `buffers` collects them) of
 * {@linkcode SPLIT_BYTES} or more goes after the serialization, as its own
 * part (a view of the buffer itself, not a copy).
 */
export function encodeFrameParts(
  value: unknown,
  tag = 0,
  buffers: readonly ArrayBuffer[] = [],
): Uint8Array[] {
  const large = [
    ...new Set(
      buffers.filter((buffer) =>
        buffer.byteLength >= SPLIT_BYTES && !buffer.resizable &&
        !buffer.detached
      ),
    ),
  ];
  if (large.length === 0) {
    return [
      (buffers.length > 0 && jsonBuffersFrame(value, tag, buffers)) ||
      encodeFrame(value, tag),
    ];
  }
  if (!v8) throw new Error("node:v8 is not loaded; call loadV8() first");
  const serializer = new v8.DefaultSerializer();
  serializer.writeHeader();
  large.forEach((buffer, index) =>
    serializer.transferArrayBuffer(index, buffer)
  );
  serializer.writeValue(value);
  const head = splitFrame(
    SPLIT_FORMAT,
    tag,
    serializer.releaseBuffer(),
    large,
    false,
  );
  return [head, ...large.map((buffer) => new Uint8Array(buffer))];
}

/**
 * A frame of format 3 holding `value`, whose only objects JSON does not
 * carry are some of `buffers`; else `undefined`.
 */
function jsonBuffersFrame(
  value: unknown,
  tag: number,
  buffers: readonly ArrayBuffer[],
): Uint8Array | undefined {
  if (!jsonExact(value, Infinity, new Set(buffers))) return undefined;
  const carried: ArrayBuffer[] = [];
  const indexes = new Map<ArrayBuffer, number>();
  let clash = false;
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof ArrayBuffer) {
      let index = indexes.get(item);
      if (index === undefined) {
        indexes.set(item, index = carried.length);
        carried.push(item);
      }
      return { [BUFFER_KEY]: index };
    }
    // Data that looks like a buffer's stand-in would come back as one.
    if (typeof item === "object" && item !== null && BUFFER_KEY in item) {
      clash = true;
    }
    return item;
  });
  if (clash) return undefined;
  return splitFrame(
    JSON_BUFFERS_FORMAT,
    tag,
    encoder.encode(text),
    carried,
    true,
  );
}

/**
 * A frame of a split format (2 or 3): its header, the count of `buffers`
 * and each one's length, then `body`, and then (`inline`) the buffers
 * themselves; else only the head, which the buffers follow as parts of
 * their own. The header's length counts the buffers either way.
 *
 * @throws {RangeError} When the frame would be longer than its header can say.
 */
function splitFrame(
  format: number,
  tag: number,
  body: Uint8Array,
  buffers: readonly ArrayBuffer[],
  inline: boolean,
): Uint8Array {
  const counts = 4 + 4 * buffers.length;
  let carried = 0;
  for (const buffer of buffers) carried += buffer.byteLength;
  const length = counts + body.length + carried;
  if (length > 0xffffffff) {
    throw new RangeError(
      `Cannot send ${length} bytes in one message to another process: at most ${0xffffffff}; send it in parts`,
    );
  }
  const bytes = new Uint8Array(
    HEADER + counts + body.length + (inline ? carried : 0),
  );
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length);
  bytes[4] = format;
  view.setUint32(5, tag);
  view.setUint32(HEADER, buffers.length);
  let at = HEADER + counts;
  bytes.set(body, at);
  at += body.length;
  buffers.forEach((buffer, index) => {
    view.setUint32(HEADER + 4 + 4 * index, buffer.byteLength);
    if (!inline) return;
    bytes.set(new Uint8Array(buffer), at);
    at += buffer.byteLength;
  });
  return bytes;
}

/** The value of a format 3 payload: its JSON text, the buffers revived. */
function decodeJsonBuffers(payload: Uint8Array): unknown {
  const { lengths, body } = splitPrefix(payload);
  let end = payload.length;
  for (const length of lengths) end -= length;
  const text = decoder.decode(payload.subarray(body, end));
  const buffers = lengths.map((length) => {
    end += length;
    return payload.slice(end - length, end).buffer;
  });
  return JSON.parse(
    text,
    (_key, item: unknown) =>
      typeof item === "object" && item !== null && BUFFER_KEY in item
        ? buffers[(item as Record<string, number>)[BUFFER_KEY]]
        : item,
  );
}

/**
 * The lengths of the buffers a frame of format 2 carries after its head
 * (`bytes` holds the frame from its header on), else none.
 */
export function splitLengths(bytes: Uint8Array): number[] {
  if (bytes[4] !== SPLIT_FORMAT) return [];
  return splitPrefix(bytes.subarray(HEADER)).lengths;
}

/**
 * What a split payload (formats 2 and 3) starts with: the lengths of the
 * buffers it carries, and where its body starts.
 */
function splitPrefix(payload: Uint8Array): { lengths: number[]; body: number } {
  const view = new DataView(payload.buffer, payload.byteOffset);
  const count = view.getUint32(0);
  const lengths: number[] = [];
  for (let i = 0; i < count; i++) lengths.push(view.getUint32(4 + 4 * i));
  return { lengths, body: 4 + 4 * count };
}

/**
 * The value of a whole frame (as {@linkcode encodeFrame} made it), or of
 * a frame's head and the buffers read after it (as
 * {@linkcode encodeFrameParts} made them).
 */
export function decodeFrame(
  bytes: Uint8Array,
  buffers: ArrayBuffer[] = [],
): unknown {
  return decodePayload(bytes[4], bytes.subarray(HEADER), buffers);
}

function decodePayload(
  format: number,
  payload: Uint8Array,
  buffers: ArrayBuffer[],
): unknown {
  if (format === JSON_FORMAT) return JSON.parse(decoder.decode(payload));
  if (format === JSON_BUFFERS_FORMAT) return decodeJsonBuffers(payload);
  if (!v8) throw new Error("node:v8 is not loaded; call loadV8() first");
  // A copy: the typed arrays node:v8 revives are views of the bytes it is
  // given, and a reader reuses its buffer for the frames that follow.
  if (format === V8_FORMAT) return v8.deserialize(payload.slice());
  const deserializer = new v8.DefaultDeserializer(
    payload.slice(splitPrefix(payload).body),
  );
  deserializer.readHeader();
  buffers.forEach((buffer, index) =>
    deserializer.transferArrayBuffer(index, buffer)
  );
  return deserializer.readValue();
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

async function writeParts(conn: Deno.Conn, parts: Uint8Array[]) {
  for (const part of parts) await writeAll(conn, part);
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
    return this.sendParts([bytes]);
  }

  /**
   * Queues a frame in parts (as {@linkcode encodeFrameParts} makes them),
   * written from where they are: they must not change until the promise
   * settles.
   */
  sendParts(parts: Uint8Array[]): Promise<void> {
    // With nothing before it, the frame is written at once: Deno performs
    // a write that fits in the socket's buffer within the call.
    const next = this.#pending === 0
      ? writeParts(this.#conn, parts)
      : this.#queue.then(() => writeParts(this.#conn, parts));
    this.#pending++;
    this.#queue = next.catch(() => {}).finally(() => this.#pending--);
    return next;
  }
}

/** A frame read from a connection. */
export interface Frame {
  tag: number;
  value: unknown;
  /** The large buffers that came beside the value (format 2), in it. */
  buffers?: ArrayBuffer[];
}

/**
 * A frame as a {@linkcode frameReader} gives it: its header and payload
 * (for format 2, its head: the payload up to the buffers' bytes), and the
 * buffers read after that. `owned` when `bytes` is the caller's to keep;
 * else it is a view of the reader's buffer, valid until the next call.
 */
export interface ReadFrame {
  bytes: Uint8Array;
  buffers: ArrayBuffer[];
  owned: boolean;
}

/** What a {@linkcode frameReader} reads with: `null` at the end. */
export type ReadInto = (into: Uint8Array) => Promise<number | null>;

/**
 * Cuts what `read` gives into frames: `take()` the next frame that is
 * whole in the reader's buffer; `more()` reads on, and gives a large frame
 * (or one of format 2) whole by itself, read into memory of its own rather
 * than through the buffer (`undefined` when it read only into the buffer,
 * `null` at the end). The function is self-contained (no name from outside
 * it), so that the client's I/O Worker, whose code is a Blob, runs it too.
 */
export function frameReader(
  read: ReadInto,
): {
  take(): ReadFrame | undefined;
  more(): Promise<ReadFrame | null | undefined>;
} {
  const HEADER = 9;
  const SPLIT = 2;
  // A frame larger than this that is not here yet is read by itself.
  const DIRECT = 64 * 1024;
  let buffer = new Uint8Array(64 * 1024);
  let start = 0;
  let end = 0;
  const u32 = (at: number) =>
    new DataView(buffer.buffer, buffer.byteOffset + at, 4).getUint32(0);
  // The lengths of the buffers after a frame of format 2 at `at`.
  const lengthsAt = (at: number) => {
    const lengths: number[] = [];
    const count = u32(at + HEADER);
    for (let i = 0; i < count; i++) lengths.push(u32(at + HEADER + 4 + 4 * i));
    return lengths;
  };
  // Until `count` bytes are here after `start`; false at the end.
  const fill = async (count: number) => {
    if (end - start >= count) return true;
    if (start > 0) {
      buffer.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    if (buffer.length < count || buffer.length - end < 4096) {
      const bigger = new Uint8Array(Math.max(count, buffer.length * 2));
      bigger.set(buffer.subarray(0, end));
      buffer = bigger;
    }
    while (end - start < count) {
      const n = await read(buffer.subarray(end));
      if (n === null) return false;
      end += n;
    }
    return true;
  };
  // Fills `target`: first with what is here, then straight from `read`.
  const readInto = async (target: Uint8Array) => {
    const here = Math.min(end - start, target.length);
    target.set(buffer.subarray(start, start + here));
    start += here;
    for (let at = here; at < target.length;) {
      const n = await read(target.subarray(at));
      if (n === null) return false;
      at += n;
    }
    return true;
  };
  const take = (): ReadFrame | undefined => {
    if (end - start < HEADER) return undefined;
    const size = HEADER + u32(start);
    if (end - start < size) return undefined;
    const at = start;
    start += size;
    if (buffer[at + 4] !== SPLIT) {
      return {
        bytes: buffer.subarray(at, at + size),
        buffers: [],
        owned: false,
      };
    }
    const lengths = lengthsAt(at);
    let offset = at + size;
    for (const length of lengths) offset -= length;
    const head = buffer.subarray(at, offset);
    const buffers = lengths.map((length) => {
      offset += length;
      return buffer.slice(offset - length, offset).buffer;
    });
    return { bytes: head, buffers, owned: false };
  };
  const more = async (): Promise<ReadFrame | null | undefined> => {
    if (!await fill(HEADER)) return null;
    const size = HEADER + u32(start);
    if (buffer[start + 4] !== SPLIT) {
      if (size <= DIRECT || end - start >= size) {
        return await fill(size) ? undefined : null;
      }
      const bytes = new Uint8Array(size);
      return await readInto(bytes) ? { bytes, buffers: [], owned: true } : null;
    }
    if (!await fill(HEADER + 4)) return null;
    if (!await fill(HEADER + 4 + 4 * u32(start + HEADER))) return null;
    const lengths = lengthsAt(start);
    let headSize = size;
    for (const length of lengths) headSize -= length;
    if (!await fill(headSize)) return null;
    const bytes = buffer.slice(start, start + headSize);
    start += headSize;
    const buffers: ArrayBuffer[] = [];
    for (const length of lengths) {
      const target = new Uint8Array(length);
      if (!await readInto(target)) return null;
      buffers.push(target.buffer);
    }
    return { bytes, buffers, owned: true };
  };
  return { take, more };
}

/** Reads from `conn`, a failure (a peer that died) being an end too. */
function readerOf(conn: Deno.Conn) {
  return frameReader((into) => conn.read(into).catch(() => null));
}

/** The tag and value of a frame read (`node:v8` loaded if it needs it). */
function decoded(frame: ReadFrame): Frame {
  const decoded: Frame = {
    tag: new DataView(frame.bytes.buffer, frame.bytes.byteOffset).getUint32(5),
    value: decodeFrame(frame.bytes, frame.buffers),
  };
  if (frame.buffers.length > 0) decoded.buffers = frame.buffers;
  return decoded;
}

/**
 * Yields the frames read from `conn` until it closes (or fails: a peer that
 * died is an end too). Loads `node:v8` when a frame needs it.
 */
export async function* readFrames(conn: Deno.Conn): AsyncGenerator<Frame> {
  const reader = readerOf(conn);
  for (;;) {
    for (let frame = reader.take(); frame; frame = reader.take()) {
      if (frame.bytes[4] !== JSON_FORMAT && !v8) await loadV8();
      yield decoded(frame);
    }
    const whole = await reader.more();
    if (whole === null) return;
    if (whole) {
      if (whole.bytes[4] !== JSON_FORMAT && !v8) await loadV8();
      yield decoded(whole);
    }
  }
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
  const reader = readerOf(conn);
  for (;;) {
    for (let frame = reader.take(); frame; frame = reader.take()) {
      if (frame.bytes[4] !== JSON_FORMAT && !v8) await loadV8();
      onFrame(decoded(frame));
    }
    const whole = await reader.more();
    if (whole === null) return;
    if (whole) {
      if (whole.bytes[4] !== JSON_FORMAT && !v8) await loadV8();
      onFrame(decoded(whole));
    }
  }
}
