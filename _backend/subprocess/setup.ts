// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What a subprocess child must be started with to run the user's program as
// its parent does: the parent's configuration file (and with it the import
// map and lock file it names), lock file, import map, `--unstable-*`,
// `--env-file`, `--cached-only`, `--no-remote`..., and what the parent was
// given and denied of each kind of permission.
//
// Deno tells a program none of this, so it comes from the command line the
// process was started with, `/proc/self/cmdline`. Deno lets only a process
// with all permissions and no denials read it; one that may run `cat` reads
// it through `cat`; one that may run only `deno` (which is all a process
// needs to start children) runs `deno eval --allow-all` with code that only
// prints that file, once: Deno's own documentation warns that a program
// allowed to run `deno` can do anything already. Where none of these can
// (not Linux, or no permission), the configuration file is found as Deno
// finds it, and the permissions stay unknown: the child is then refused a
// kind it would get in full (see permissions.ts). Relative paths are made absolute against the directory
// this process started in (as far as it can tell: the directory current
// when the library loaded), since a child starts in the parent's current
// directory, which may have changed.
import {
  type Kind,
  KINDS,
  noFlags,
  type PermissionFlags,
} from "./permissions.ts";

/** What a child inherits of its parent's start. */
export interface ParentSetup {
  /** The `deno run` flags of the setup (config, lock, import map...). */
  flags: string[];
  /** What the parent's permission flags say, or `null` when unknown. */
  permissions: PermissionFlags | null;
  /** Where it was learnt: the command line, or a search for the config. */
  source: "cmdline" | "search";
}

/** The subcommands whose flags a child's `deno run` takes. */
const SUBCOMMANDS = new Set(["run", "test", "bench", "serve", "eval"]);
/** Those that take any number of files, with flags among them. */
const MANY_FILES = new Set(["test", "bench"]);

/** Flags whose value may follow as the next argument. */
const TAKES_VALUE = new Set([
  "-c",
  "--config",
  "--import-map",
  "--location",
  "--cert",
  "--seed",
  "--ext",
  "--reporter",
  "--junit-path",
  "--filter",
  "-L",
  "--log-level",
  "--preload",
  "--conditions",
]);

/** Flags passed on as they are. */
const KEPT = new Set([
  "--no-config",
  "--no-lock",
  "--cached-only",
  "--no-remote",
  "--no-npm",
  "--unstable",
  "--quiet",
  "-q",
]);

/** Flags passed on with their value, a path made absolute. */
const PATH_VALUE = new Set([
  "-c",
  "--config",
  "--import-map",
  "--lock",
  "--env-file",
  "--cert",
]);

/** Flags passed on with their value as it is (or none). */
const KEPT_VALUE = new Set([
  "--frozen",
  "--frozen-lockfile",
  "--node-modules-dir",
  "--vendor",
  "--location",
  "--conditions",
  "--unsafely-ignore-certificate-errors",
]);

const SHORT_KIND: Record<string, Kind> = {
  "-R": "read",
  "-W": "write",
  "-N": "net",
  "-E": "env",
  "-S": "sys",
  "-I": "import",
};

/** Kinds whose items are paths, which Deno reads relative to the start. */
const PATH_KINDS = new Set<Kind>(["read", "write", "ffi"]);

const startDir = currentDir();

function currentDir(): string | undefined {
  try {
    const read = Deno.permissions.querySync({ name: "read", path: "." });
    return read.state === "granted" ? Deno.cwd() : undefined;
  } catch {
    return undefined;
  }
}

function absolute(path: string): string {
  if (path.startsWith("/") || /^[a-z][a-z0-9+.-]*:/i.test(path)) return path;
  return startDir ? `${startDir.replace(/\/$/, "")}/${path}` : path;
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/**
 * This process's command line, or `null` when it cannot be read without a
 * prompt: asked only of what holds the permission already.
 */
export function ownCommandLine(): string[] | null {
  if (Deno.build.os !== "linux") return null;
  const split = (bytes: Uint8Array) => {
    const args = new TextDecoder().decode(bytes).split("\0");
    if (args.at(-1) === "") args.pop();
    return args;
  };
  // Deno lets read /proc/self only a process that holds every permission.
  if (KINDS.every((name) => granted({ name }))) {
    try {
      return split(Deno.readFileSync("/proc/self/cmdline"));
    } catch {
      // It denies something: try cat.
    }
  }
  const path = `/proc/${Deno.pid}/cmdline`;
  const readers: [string, string[]][] = [
    ["cat", [path]],
    [Deno.execPath(), [
      "eval",
      "--no-config",
      "--allow-all",
      `const b=Deno.readFileSync(${JSON.stringify(path)});` +
      `for(let n=0;n<b.length;)n+=Deno.stdout.writeSync(b.subarray(n))`,
    ]],
  ];
  for (const [command, args] of readers) {
    if (!granted({ name: "run", command })) continue;
    try {
      const out = new Deno.Command(command, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      if (out.success && out.stdout.length) return split(out.stdout);
    } catch {
      // Not installed.
    }
  }
  return null;
}

function items(value: string | undefined): true | string[] {
  return value === undefined ? true : value.split(",").filter(Boolean);
}

function addItems(
  map: Map<Kind, true | string[]>,
  kind: Kind,
  value: true | string[],
): void {
  const had = map.get(kind);
  if (had === true || value === true) map.set(kind, true);
  else map.set(kind, [...(had ?? []), ...value]);
}

/**
 * Reads a `deno` command line: the setup flags a child takes, and the
 * permission flags (`null` when a permission set from the configuration
 * decides them, `-P`, which the child could not check).
 *
 * @param argv The command line, `deno` first.
 */
export function parseCommandLine(
  argv: string[],
): {
  flags: string[];
  permissions: PermissionFlags | null;
  config: boolean;
  subcommand: string;
} {
  let at = 1;
  let subcommand = "run";
  if (SUBCOMMANDS.has(argv[1])) subcommand = argv[at++];
  const flags: string[] = [];
  const permissions = noFlags();
  const allowed = new Map<Kind, true | string[]>();
  let all = false;
  let sets = false;
  let config = false;
  for (; at < argv.length; at++) {
    const arg = argv[at];
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") {
      // The main module: what follows is its own arguments.
      if (!MANY_FILES.has(subcommand)) break;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    let value = eq < 0 ? undefined : arg.slice(eq + 1);
    if (value === undefined && TAKES_VALUE.has(name)) value = argv[++at];
    if (name === "-c" || name === "--config" || name === "--no-config") {
      config = true;
    }
    if (name === "-A" || name === "--allow-all") all = true;
    else if (name === "-P" || name === "--permission-set") sets = true;
    else if (name in SHORT_KIND) {
      addItems(allowed, SHORT_KIND[name], items(value));
    } else if (/^--(allow|deny|ignore)-[a-z]+$/.test(name)) {
      const [what, kind] = name.split("-").filter(Boolean);
      if (!(KINDS as readonly string[]).includes(kind)) continue;
      const map = what === "allow"
        ? allowed
        : what === "deny"
        ? permissions.deny
        : permissions.ignore;
      let list = items(value);
      if (list !== true && PATH_KINDS.has(kind as Kind)) {
        list = list.map(absolute);
      }
      addItems(map, kind as Kind, list);
    } else if (KEPT.has(name) || name.startsWith("--unstable-")) {
      flags.push(arg);
    } else if (PATH_VALUE.has(name)) {
      // Without a value, `--lock` and `--env-file` name a file in the
      // start directory.
      const long = name === "-c" ? "--config" : name;
      const path = value ?? (name === "--lock" ? "deno.lock" : ".env");
      flags.push(`${long}=${absolute(path)}`);
    } else if (KEPT_VALUE.has(name)) {
      flags.push(value === undefined ? name : `${name}=${value}`);
    }
  }
  if (!all) {
    for (const [kind, value] of allowed) {
      if (value !== true) permissions.lists.set(kind, value);
    }
  }
  return { flags, permissions: sets ? null : permissions, config, subcommand };
}

/**
 * The configuration file Deno would have found for this process: the first
 * `deno.json` or `deno.jsonc` from the main module's folder up (`deno run`
 * of a file), or from the start directory up (`deno test`, `deno bench`);
 * none for a main module that is not a file (a subprocess child's), or when
 * this process may not look.
 */
export function findConfig(subcommand = "run"): string | undefined {
  let start = startDir;
  if (!MANY_FILES.has(subcommand)) {
    // A main module that is not a file (a child's data: URL) finds none.
    if (!Deno.mainModule.startsWith("file:")) return undefined;
    const main = new URL(Deno.mainModule).pathname;
    start = main.slice(0, main.lastIndexOf("/"));
  }
  if (start !== undefined) {
    for (let dir = start; dir; dir = dir.slice(0, dir.lastIndexOf("/"))) {
      for (const name of ["deno.json", "deno.jsonc"]) {
        const path = `${dir}/${name}`;
        if (!granted({ name: "read", path })) return undefined;
        try {
          if (Deno.statSync(path).isFile) return path;
        } catch {
          // Not here.
        }
      }
    }
  }
  return undefined;
}

let learnt: ParentSetup | undefined;

/** This process's setup, learnt once. */
export function parentSetup(): ParentSetup {
  if (learnt) return learnt;
  const argv = ownCommandLine();
  if (argv) {
    const { flags, permissions, config, subcommand } = parseCommandLine(argv);
    // A configuration Deno found by itself must be named: a child's main
    // module is a data: URL, from which Deno finds none.
    const found = config ? undefined : findConfig(subcommand);
    if (found) flags.unshift(`--config=${found}`);
    return learnt = { flags, permissions, source: "cmdline" };
  }
  const found = findConfig();
  return learnt = {
    flags: found ? [`--config=${found}`] : [],
    permissions: null,
    source: "search",
  };
}
