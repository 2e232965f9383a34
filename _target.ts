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
  /**
   * `"subclass"`: the export is a `Process` subclass; the child makes an
   * instance with the fields it is sent and calls its `run()`.
   */
  kind?: "function" | "subclass";
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

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * What a target is for, as the messages about it name it: "the target" of
 * a `Process`, "the pool's task function", "the barrier's action".
 */
export interface TargetRole {
  /** The target, as a message names it: `"the pool's task function"`. */
  readonly noun: string;
  /** Who imports it: `"a child"`, `"a pool worker"`. */
  readonly importer: string;
  /**
   * The option that takes it (`"target"`, `"action"`), `""` for an
   * argument, or `undefined` for a target that can only be exported (a
   * `Process` subclass).
   */
  readonly option?: string;
}

function capitalized(text: string): string {
  return text[0].toUpperCase() + text.slice(1);
}

function described(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value !== "object") return typeof value;
  const keys = Object.keys(value);
  return keys.length ? `{ ${keys.join(", ")} }` : "{}";
}

/**
 * Turns what names a target (an exported function, or `{ module, export }`)
 * into the {@linkcode TargetSpec} a child imports it by: the one way
 * `Process`, `Pool` and `Barrier` do it.
 *
 * @param target The function, or `{ module, export }`.
 * @param role What it is for, as messages name it.
 * @param module The module that exports a function target (the caller's,
 * from {@linkcode callerModule}); `undefined` when none could be found.
 * @throws {TypeError} For an anonymous function, a function whose module is
 * unknown, or anything else; the message says what to pass instead.
 */
export function resolveTarget(
  target: unknown,
  role: TargetRole,
  module: string | undefined,
): TargetSpec {
  if (typeof target === "function") {
    return specOfFunction(target as AnyFunction, role, module);
  }
  const ref = target as { module?: unknown; export?: unknown };
  if (
    role.option !== undefined && typeof ref === "object" && ref !== null &&
    typeof ref.export === "string" &&
    (typeof ref.module === "string" || ref.module instanceof URL)
  ) {
    return { module: String(ref.module), name: ref.export };
  }
  throw new TypeError(
    `${
      capitalized(role.noun)
    } must be an exported function or { module, export } (a module URL and an export name), got ${
      described(target)
    }`,
  );
}

function specOfFunction(
  fn: AnyFunction,
  role: TargetRole,
  module: string | undefined,
): TargetSpec {
  const name = fn.name;
  const pass = role.option ? `${role.option}: ` : "";
  if (!name || name === "anonymous" || name.startsWith("bound ")) {
    throw new TypeError(
      role.option === undefined
        ? `${
          capitalized(role.noun)
        } must be a named class exported by its module (${role.importer} imports it by name): write \`export class Work extends Process {...}\``
        : `${
          capitalized(role.noun)
        } must be a named function exported by its module (${role.importer} imports it by name): ` +
          `write \`export function work(...) {...}\` and pass \`${pass}work\`, or pass \`${pass}{ module: import.meta.url, export: "work" }\``,
    );
  }
  if (!module) {
    throw new TypeError(
      `Cannot tell which module exports ${role.noun} "${name}": ` +
        (role.option === undefined
          ? `make it in the module that exports it`
          : `pass ${pass}{ module: import.meta.url, export: "${name}" }`),
    );
  }
  return { module, name, source: fn.toString() };
}

/** Finds the target among a module's exports, by name or by source. */
function findExport(
  mod: Record<string, unknown>,
  spec: TargetSpec,
): AnyFunction | undefined {
  const named = mod[spec.name];
  if (typeof named === "function") return named as AnyFunction;
  if (!spec.source) return undefined;
  for (const value of Object.values(mod)) {
    if (typeof value === "function" && value.toString() === spec.source) {
      return value as AnyFunction;
    }
  }
  return undefined;
}

const IMPORT_FROM = /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g;

/**
 * The modules that `module` imports by a relative or absolute URL: a target
 * that the caller imported from another module is exported there.
 */
async function importedModules(module: string): Promise<string[]> {
  let source: string;
  try {
    source = await (await fetch(module)).text();
  } catch {
    return [];
  }
  const urls: string[] = [];
  for (const [, specifier] of source.matchAll(IMPORT_FROM)) {
    if (/^(\.{1,2}\/|\/|[a-z]+:)/.test(specifier)) {
      urls.push(new URL(specifier, module).href);
    }
  }
  return urls;
}

/** Imports a target in the child; throws a `TypeError` that says what to do. */
export async function importTarget(spec: TargetSpec): Promise<AnyFunction> {
  const mod = await import(spec.module) as Record<string, unknown>;
  const found = findExport(mod, spec);
  if (found) return found;
  if (spec.source) {
    for (const url of await importedModules(spec.module)) {
      const imported = await import(url).catch(() => undefined);
      const inner = imported && findExport(imported, spec);
      if (inner) return inner;
    }
  }
  throw new TypeError(
    `Process target "${spec.name}" is not exported by ${spec.module}: a child imports its target by name, ` +
      `so export it from that module (export function ${spec.name}(...) {...}) or pass target: { module, export } naming the module that exports it`,
  );
}
