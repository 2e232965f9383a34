// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The `deno run` flags that give a subprocess child its permissions. Deno
// tells a program whether it holds a kind of permission in full or for one
// path or host, but not which paths it holds: so "inherit" passes on the
// kinds held in full, and a list is checked path by path.
import type { PermissionOptions, PermissionValue } from "../../subprocess.ts";

const KINDS = [
  "read",
  "write",
  "net",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
] as const;
type Kind = typeof KINDS[number];

/** Which descriptor field names one item of a kind. */
const FIELD: Record<Kind, string> = {
  read: "path",
  write: "path",
  net: "host",
  env: "variable",
  sys: "kind",
  run: "command",
  ffi: "path",
  import: "host",
};

/** What a child is granted of each kind: all of it, or some items. */
export type Grants = Map<Kind, true | string[]>;

function holds(kind: Kind, item?: string): boolean {
  const descriptor = item === undefined
    ? { name: kind }
    : { name: kind, [FIELD[kind]]: item };
  try {
    return Deno.permissions.querySync(
      descriptor as Deno.PermissionDescriptor,
    ).state === "granted";
  } catch {
    return false;
  }
}

function itemOf(kind: Kind, item: string | URL): string {
  if (item instanceof URL) {
    return kind === "net" || kind === "import" ? item.host : item.pathname;
  }
  return String(item);
}

function notCapable(message: string): Error {
  return new Deno.errors.NotCapable(message);
}

/**
 * What a child gets of each kind, checked against what this process holds.
 *
 * @throws {Deno.errors.NotCapable} When more than this process holds is
 * asked for.
 * @throws {TypeError} When the options are malformed.
 */
export function grantsOf(options: PermissionOptions = "inherit"): Grants {
  const grants: Grants = new Map();
  if (options === "none") return grants;
  if (options === "inherit") {
    for (const kind of KINDS) if (holds(kind)) grants.set(kind, true);
    return grants;
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `permissions must be "inherit", "none" or an object of kinds, got ${
        JSON.stringify(options)
      }`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!(KINDS as readonly string[]).includes(key)) {
      throw new TypeError(
        `Unknown permission kind "${key}": use one of ${KINDS.join(", ")}`,
      );
    }
  }
  for (const kind of KINDS) {
    const value: PermissionValue | undefined = options[kind];
    if (value === undefined || value === false) continue;
    if (value === "inherit") {
      if (holds(kind)) grants.set(kind, true);
    } else if (value === true) {
      if (!holds(kind)) {
        throw notCapable(
          `Cannot give a child all ${kind} permission: this process does not hold it; run with --allow-${kind} or ask for less`,
        );
      }
      grants.set(kind, true);
    } else if (Array.isArray(value)) {
      const items = value.map((item) => itemOf(kind, item));
      for (const item of items) {
        if (!holds(kind, item)) {
          throw notCapable(
            `Cannot give a child ${kind} permission for "${item}": this process does not hold it`,
          );
        }
      }
      if (items.length) grants.set(kind, items);
    } else {
      throw new TypeError(
        `permissions.${kind} must be "inherit", true, false or a list, got ${
          JSON.stringify(value)
        }`,
      );
    }
  }
  return grants;
}

/** Adds `items` of `kind` to `grants` unless the kind is granted in full. */
export function grantItems(grants: Grants, kind: Kind, items: string[]): void {
  const had = grants.get(kind);
  if (had === true) return;
  grants.set(kind, [...(had ?? []), ...items]);
}

/** The `deno run` flags for `grants` (`--allow-all` when all are granted). */
export function permissionFlags(grants: Grants): string[] {
  if (KINDS.every((kind) => grants.get(kind) === true)) return ["--allow-all"];
  const flags: string[] = [];
  for (const [kind, value] of grants) {
    flags.push(value === true ? `--allow-${kind}` : `--allow-${kind}=${value}`);
  }
  return flags;
}
