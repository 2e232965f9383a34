// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The `deno run` flags that give a subprocess child its permissions, never
// more than its parent's. Deno tells a program whether it holds a kind of
// permission in full or for one path or host, but not which paths it holds
// nor what it denies: a kind granted with `--allow-read --deny-read=x` reads
// as "granted". So what the parent was started with comes from its command
// line (see setup.ts): its denials (`--deny-*`, `--ignore-*`) go to the child
// with every kind it gets, and "inherit" passes on a kind granted by a list
// as the same list. Where the command line cannot be read, a kind the parent
// holds "in full" may hide denials: the child is refused it unless the
// `permissions` option names what it needs, item by item (each checked).
import type { PermissionOptions, PermissionValue } from "../../subprocess.ts";

/** The kinds of permission, in the order their flags are written. */
export const KINDS = [
  "read",
  "write",
  "net",
  "env",
  "sys",
  "run",
  "ffi",
  "import",
] as const;
/** A kind of permission. */
export type Kind = typeof KINDS[number];

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

/** What a process's command line says of its permissions (see setup.ts). */
export interface PermissionFlags {
  /** The kinds granted by a list (`--allow-read=a,b`), with the list. */
  lists: Map<Kind, string[]>;
  /** What `--deny-KIND` denies: all of a kind, or some items. */
  deny: Map<Kind, true | string[]>;
  /** What `--ignore-KIND` hides (answered as if absent). */
  ignore: Map<Kind, true | string[]>;
}

/** No lists, nothing denied: a process started with `--allow-all`. */
export function noFlags(): PermissionFlags {
  return { lists: new Map(), deny: new Map(), ignore: new Map() };
}

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

function unknownDenials(kind: Kind, asked: string): Error {
  return notCapable(
    `Cannot give a child ${asked} ${kind} permission: this process holds all of ${kind} as far as Deno says, but cannot read its own command line to learn what it denies (/proc/self/cmdline needs --allow-all, or --allow-run for cat); name what the child needs, permissions: { ${kind}: [...] }, or give it none of ${kind}`,
  );
}

/**
 * What a child asking for "inherit" of `kind` gets: the kind in full when
 * this process holds it in full and knows what it denies; the list it was
 * granted, where it holds every item still; else nothing.
 */
function inherit(
  grants: Grants,
  kind: Kind,
  parent: PermissionFlags | null,
): void {
  if (holds(kind)) {
    if (parent === null) throw unknownDenials(kind, '"inherit" of');
    grants.set(kind, true);
    return;
  }
  const items = parent?.lists.get(kind)?.filter((item) => holds(kind, item));
  if (items?.length) grants.set(kind, items);
}

/**
 * What a child gets of each kind, checked against what this process holds.
 *
 * @param options The child's `permissions` option.
 * @param parent What this process's command line says, or `null` when it
 * cannot be read (see setup.ts).
 * @throws {Deno.errors.NotCapable} When more than this process holds is
 * asked for, or a kind whose denials cannot be learnt.
 * @throws {TypeError} When the options are malformed.
 */
export function grantsOf(
  options: PermissionOptions = "inherit",
  parent: PermissionFlags | null = noFlags(),
): Grants {
  const grants: Grants = new Map();
  if (options === "none") return grants;
  if (options === "inherit") {
    for (const kind of KINDS) inherit(grants, kind, parent);
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
      inherit(grants, kind, parent);
    } else if (value === true) {
      if (!holds(kind)) {
        throw notCapable(
          `Cannot give a child all ${kind} permission: this process does not hold it; run with --allow-${kind} or ask for less`,
        );
      }
      if (parent === null) throw unknownDenials(kind, "all");
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

/**
 * The `deno run` flags for `grants` (`--allow-all` when all are granted),
 * then this process's denials of each kind granted (`parent`).
 */
export function permissionFlags(
  grants: Grants,
  parent: PermissionFlags | null = noFlags(),
): string[] {
  const flags: string[] = [];
  if (KINDS.every((kind) => grants.get(kind) === true)) {
    flags.push("--allow-all");
  } else {
    for (const [kind, value] of grants) flags.push(flag("allow", kind, value));
  }
  for (const kind of KINDS) {
    if (!grants.has(kind) || parent === null) continue;
    const denied = parent.deny.get(kind);
    if (denied !== undefined) flags.push(flag("deny", kind, denied));
    const ignored = parent.ignore.get(kind);
    if (ignored !== undefined) flags.push(flag("ignore", kind, ignored));
  }
  return flags;
}

function flag(what: string, kind: Kind, value: true | string[]): string {
  return value === true ? `--${what}-${kind}` : `--${what}-${kind}=${value}`;
}
