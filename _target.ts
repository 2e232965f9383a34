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

/** What {@linkcode resolveTarget} found for each function target. */
// deno-lint-ignore ban-types
const resolvedFunctions = new WeakMap<Function, TargetSpec>();

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
 * from {@linkcode callerModule}), or a function that finds it, called only
 * for a function not resolved before; `undefined` when none could be found.
 * @throws {TypeError} For an anonymous function, a function whose module is
 * unknown, or anything else; the message says what to pass instead.
 */
export function resolveTarget(
  target: unknown,
  role: TargetRole,
  module: string | undefined | (() => string | undefined),
): TargetSpec {
  if (typeof target === "function") {
    // A function is resolved once: finding the caller's module walks the
    // stack (about 50 µs), too much for each task of a pool. Any module that
    // exported it once exports it for every later caller.
    let spec = resolvedFunctions.get(target);
    if (!spec) {
      const where = typeof module === "function" ? module() : module;
      spec = specOfFunction(target as AnyFunction, role, where);
      resolvedFunctions.set(target, spec);
    }
    return spec;
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

/** Tells the user how to write a target that a child can import. */
function howToExport(role: TargetRole): string {
  const pass = role.option ? `${role.option}: ` : "";
  return role.option === undefined
    ? "write `export class Work extends Process {...}`"
    : `write \`export function work(...) {...}\` and pass \`${pass}work\`, or pass \`${pass}{ module: import.meta.url, export: "work" }\``;
}

function specOfFunction(
  fn: AnyFunction,
  role: TargetRole,
  module: string | undefined,
): TargetSpec {
  const name = fn.name;
  const pass = role.option ? `${role.option}: ` : "";
  const what = role.option === undefined ? "class" : "function";
  if (!name || name === "anonymous" || name.startsWith("bound ")) {
    throw new TypeError(
      `${
        capitalized(role.noun)
      } must be a named ${what} exported by its module (${role.importer} imports it by name): ${
        howToExport(role)
      }`,
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
  if (onlyAnObjectKey(module, name)) {
    throw new TypeError(
      `${capitalized(role.noun)} "${name}" is not exported by ${module}, ` +
        `where "${name}" is only an object key (a ${what} written in place is named after its key): ` +
        `${role.importer} imports ${role.noun} by name, so ${
          howToExport(role)
        }`,
    );
  }
  return { module, name, source: fn.toString() };
}

/** The sources of the modules read by {@linkcode onlyAnObjectKey}, by URL. */
const sources = new Map<string, string | undefined>();

/** The source of a `file:` module this process may read, read once. */
function sourceOf(module: string): string | undefined {
  if (!sources.has(module)) {
    let source: string | undefined;
    try {
      const url = new URL(module);
      const status = url.protocol === "file:"
        ? Deno.permissions.querySync({ name: "read", path: url })
        : undefined;
      if (status?.state === "granted") source = Deno.readTextFileSync(url);
    } catch {
      // Unreadable: the child will tell.
    }
    sources.set(module, source);
  }
  return sources.get(module);
}

const ID_PART = "[\\p{ID_Continue}$\\u200c\\u200d]";

/**
 * Whether `name` is no binding of `module` at all, so that no child can
 * import it from there: it occurs in the module's source, and only as an
 * object-literal key (`name:`), as the function of `{ target: () => 1 }`
 * is named. A binding always has a declaration or an import where the name
 * is not followed by a colon, except a typed variable declaration
 * (`const name: T`). Conservative: when the source cannot be read, or the
 * name occurs anywhere else, even in a comment, it says `false` and the
 * child reports what it finds.
 */
function onlyAnObjectKey(module: string, name: string): boolean {
  const source = sourceOf(module);
  if (source === undefined) return false;
  const escaped = name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const occurrences = new RegExp(
    `(?<!${ID_PART})${escaped}(?!${ID_PART})(\\s*:)?`,
    "gu",
  );
  let found = false;
  for (const match of source.matchAll(occurrences)) {
    const declared = /\b(?:const|let|var)\s+$/.test(
      source.slice(Math.max(0, match.index - 16), match.index),
    );
    if (match[1] === undefined || declared) return false;
    found = true;
  }
  return found;
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

/** The role of a `Process` target, as messages name it. */
export const PROCESS_TARGET: TargetRole = {
  noun: "the target",
  importer: "a child",
  option: "target",
};

/** The role of a `Process` subclass, as messages name it. */
export const PROCESS_SUBCLASS: TargetRole = {
  noun: "a Process subclass",
  importer: "a child",
};

/**
 * Imports a target in a child. An error of the module's import (not found,
 * a syntax error, an error its code threw) is thrown as it is.
 *
 * @param spec The target.
 * @param role What it is for, as the message of a missing export names it.
 * @throws {TypeError} When the module does not export it; the message says
 * what to do.
 */
export async function importTarget(
  spec: TargetSpec,
  role: TargetRole = spec.kind === "subclass"
    ? PROCESS_SUBCLASS
    : PROCESS_TARGET,
): Promise<AnyFunction> {
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
  const pass = role.option ? `${role.option}: ` : "";
  throw new TypeError(
    `${
      capitalized(role.noun)
    } "${spec.name}" is not exported by ${spec.module}: ` +
      `${role.importer} imports it by name, so export it from that module ` +
      (role.option === undefined
        ? `(export class ${spec.name} extends Process {...})`
        : `(export function ${spec.name}(...) {...}) or pass ${pass}{ module, export } naming the module that exports it`),
  );
}
