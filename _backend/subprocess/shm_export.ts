// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Primitives that a subprocess child operates itself, in shared memory.
//
// Where this process keeps its primitives in FFI segments (see
// _shm/memory.ts), a primitive passed to a subprocess child crosses as its
// own wire form, which names its memory by segment: the child maps the same
// bytes and works on them as a Worker child would, with no round trip to
// this process (a `Queue` too: its ring is in segments, see
// SharedRing.forQueue). What cannot cross that way (a primitive in a
// `SharedArrayBuffer`, or a `Pipe`, whose rings and port live in memory
// that only this process maps) goes on as a proxy, through the exporter
// this one wraps. A child whose permissions leave FFI out cannot map segments: its
// primitives are proxied after all (`withoutSharedMemory`), so that FFI
// stays the user's choice.
import {
  isSegmentClass,
  NOT_SHAREABLE,
  noteSharedExport,
  sharedExportOf,
  usesSegments,
} from "../../_shm/memory.ts";
import {
  encode,
  type Exporter,
  toWire,
  wireContext,
  type WireForm,
} from "../../_wire.ts";
import type { PermissionOptions } from "../../subprocess.ts";
import { grantsOf } from "./permissions.ts";
import { PROXY_MODULE } from "./proxy/protocol.ts";

/**
 * Wraps the proxy exporter of one encoding: primitives in shared memory
 * cross as themselves, everything else through `proxy`.
 */
export function sharedMemoryExporter(proxy: Exporter): Exporter {
  const exporter: Exporter = (value) => {
    if (!isSegmentClass(value) || !usesSegments()) return proxy(value);
    // Primitives inside (a Condition's lock) come back here.
    const ctx = wireContext("subprocess", exporter);
    let form: WireForm;
    try {
      form = value[toWire](ctx);
    } catch (error) {
      if (error === NOT_SHAREABLE) return proxy(value);
      throw error;
    }
    const state = form.state;
    if (
      ctx.transfer.length > 0 || typeof state !== "object" || state === null ||
      holdsLocal(state, 0)
    ) return proxy(value);
    noteSharedExport(state, { value, proxy });
    return form;
  };
  return exporter;
}

/**
 * Whether a wire state holds what only this process can use: a
 * `SharedArrayBuffer`, a port, or a proxy (a primitive inside that had to
 * be proxied: its container must be, too, to work as one).
 */
function holdsLocal(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null || depth > 16) return false;
  if (value instanceof SharedArrayBuffer || value instanceof MessagePort) {
    return true;
  }
  if ((value as { module?: unknown }).module === PROXY_MODULE) return true;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return false;
  return Object.values(value).some((item) => holdsLocal(item, depth + 1));
}

/** Whether a child with `permissions` may use FFI (and so shared memory). */
export function mayUseFfi(permissions: PermissionOptions | undefined): boolean {
  try {
    return grantsOf(permissions).get("ffi") === true;
  } catch {
    return false; // the launch reports the malformed permissions
  }
}

/**
 * `args` with every primitive that was exported in shared memory proxied
 * instead, through the exporter of its encoding: for a child that cannot
 * use FFI. Containers holding one were copied by the encoding, so they are
 * changed in place.
 */
export function withoutSharedMemory(args: unknown[]): unknown[] {
  return replace(args, 0) as unknown[];
}

function replace(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null || depth > 64) return value;
  const entry = sharedExportOf((value as { state?: unknown }).state);
  if (entry) return encode(entry.value, wireContext("subprocess", entry.proxy));
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = replace(value[i], depth + 1);
      if (item !== value[i]) value[i] = item;
    }
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      const replaced = replace(item, depth + 1);
      if (replaced !== item) value.set(key, replaced);
    }
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = replace(record[key], depth + 1);
      if (item !== record[key]) record[key] = item;
    }
  }
  return value;
}
