// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Naming a function for an agent on another machine, which imports it by
// URL. `_target.ts` names the module that called the pool; a local child
// that does not find the function there looks through that module's
// imports. An agent cannot read the caller's files, so this side finds the
// module that really exports the function before it sends the name.
import {
  callerModule,
  internalModule,
  resolveTarget,
  type TargetRole,
} from "../_target.ts";
import type { FunctionRef } from "./protocol.ts";

internalModule(import.meta.url);

const IMPORT_FROM = /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g;

/** What {@linkcode functionRef} found, by function. */
// deno-lint-ignore ban-types
const found = new WeakMap<Function, FunctionRef>();

/**
 * The module URL and export name an agent imports `target` by.
 *
 * @param target An exported function, or `{ module, export }`.
 * @param role What it is for, as messages name it.
 * @throws {TypeError} As `resolveTarget` does, or when neither the caller's
 * module nor a module it imports exports the function.
 */
export async function functionRef(
  target: unknown,
  role: TargetRole,
): Promise<FunctionRef> {
  const spec = resolveTarget(target, role, callerModule);
  const ref = { module: spec.module, name: spec.name };
  if (typeof target !== "function") return ref;
  const known = found.get(target);
  if (known) return known;
  const exporter = await exportingModule(target, spec.module, spec.name);
  if (!exporter) {
    throw new TypeError(
      `Cannot tell which module exports ${role.noun} "${spec.name}": neither ${spec.module} nor a module it imports exports it; export it, or pass { module, export }`,
    );
  }
  found.set(target, exporter);
  return exporter;
}

/** The export that is `fn`: by its name, or under another. */
function exportOf(
  exports: Record<string, unknown>,
  fn: unknown,
  name: string,
): string | undefined {
  if (exports[name] === fn) return name;
  return Object.entries(exports).find(([, value]) => value === fn)?.[0];
}

/** The module, `module` or one it imports, that exports `fn`, and its name there. */
async function exportingModule(
  fn: unknown,
  module: string,
  name: string,
): Promise<FunctionRef | undefined> {
  const exports = await import(module).catch(() => undefined);
  // Not importable here: let the agent say what it finds.
  if (!exports) return { module, name };
  const own = exportOf(exports, fn, name);
  if (own) return { module, name: own };
  let source: string;
  try {
    source = await (await fetch(module)).text();
  } catch {
    return undefined;
  }
  for (const [, specifier] of source.matchAll(IMPORT_FROM)) {
    if (!/^(\.{1,2}\/|\/|[a-z]+:)/.test(specifier)) continue;
    const url = new URL(specifier, module).href;
    const imported = await import(url).catch(() => undefined);
    const there = imported && exportOf(imported, fn, name);
    if (there) return { module: url, name: there };
  }
  return undefined;
}
