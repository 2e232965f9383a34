// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Finding a child's target: Python pickles a function by reference (its
// module and name); we do the same. The parent names the module that called
// `new Process()` (read off the call stack) and the function's name; the
// child imports that module and takes the export.

/** A function named by its module and export, which a child can import. */
export interface TargetSpec {
  /** URL of the module. */
  module: string;
  /** Name of the export. */
  name: string;
  /** The function's source, to find it under another export name. */
  source?: string;
}

const internalModules = new Set<string>([import.meta.url]);

/** Marks a module of this library so that stack walks skip its frames. */
export function internalModule(url: string): void {
  internalModules.add(url);
}

const FRAME_URL = /((?:file|https?|data|jsr|npm):[^\s()]+?):\d+:\d+\)?\s*$/;

/**
 * The URL of the first module on the call stack that is not part of this
 * library, or `undefined` when there is none.
 */
export function callerModule(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const match = FRAME_URL.exec(line);
    if (match && !internalModules.has(match[1])) return match[1];
  }
  return undefined;
}

/** Reads a {@linkcode TargetSpec} off a function and its caller module. */
export function specOfFunction(
  fn: (...args: never[]) => unknown,
  module: string | undefined,
): TargetSpec {
  const name = fn.name;
  if (!name || name === "anonymous" || name.startsWith("bound ")) {
    throw new TypeError(
      "target must be a named function exported by its module (a child imports it by name): " +
        'write `export function work(...) {...}` and pass `target: work`, or pass `target: { module: import.meta.url, export: "work" }`',
    );
  }
  if (!module) {
    throw new TypeError(
      `Cannot tell which module exports target "${name}": pass target: { module: import.meta.url, export: "${name}" }`,
    );
  }
  return { module, name, source: fn.toString() };
}

/** Imports a target in the child; throws a `TypeError` that says what to do. */
export async function importTarget(
  spec: TargetSpec,
): Promise<(...args: unknown[]) => unknown> {
  const mod = await import(spec.module) as Record<string, unknown>;
  const named = mod[spec.name];
  if (typeof named === "function") {
    return named as (...args: unknown[]) => unknown;
  }
  if (spec.source) {
    for (const value of Object.values(mod)) {
      if (typeof value === "function" && value.toString() === spec.source) {
        return value as (...args: unknown[]) => unknown;
      }
    }
  }
  throw new TypeError(
    `Process target "${spec.name}" is not exported by ${spec.module}: a child imports its target by name, ` +
      `so export it from that module (export function ${spec.name}(...) {...}) or pass target: { module, export } naming the module that exports it`,
  );
}
