// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What every child runs, on any backend: import the target, revive its
// arguments, run it, then wait for its own non-daemon children and end its
// daemon ones, as Python's child bootstrap does.
import type { ChildEnd } from "./launcher.ts";
import type { Backend } from "../process.ts";
import { errorToData } from "../_error.ts";
import { ProcessError } from "../errors.ts";
import { identity } from "../_shm/registry.ts";
import { importTarget, type TargetRole, type TargetSpec } from "../_target.ts";
import { decode } from "../_wire.ts";

// process.ts is not imported here: a subprocess child's start-up pays for
// every module it loads, and a child that never loaded process.ts (its
// target did not import it) has no children to wait for and no subclass of
// Process to run. process.ts registers itself when it loads.
interface ChildLike {
  readonly daemon: boolean;
  terminate(): void;
  join(): Promise<number | null>;
}

/** What this module needs of process.ts. */
export interface ProcessModule {
  /** The children of this process that were started and have not ended. */
  activeChildren(): ChildLike[];
  /** The `Process` class, whose subclasses a child may run. */
  Process: new (options: { name: string }) => { run(): unknown };
  /** `join()`, but without keeping this process running meanwhile. */
  joinQuietly(child: ChildLike): Promise<number | null>;
}

let processModule: ProcessModule | undefined;

// The backend that started this process: its children default to it, as a
// Python child inherits the start method that started it. The main program
// was started by no backend of ours, and defaults to Workers.
let startedBy: Backend = "worker";

/**
 * Records the backend that started this child; each backend's child entry
 * calls it before the target's module is imported.
 */
export function setStartedBy(backend: Backend): void {
  startedBy = backend;
}

/** The backend that started this process (`"worker"` in the main program). */
export function inheritedStartMethod(): Backend {
  return startedBy;
}

/** Called by process.ts when it loads. */
export function registerProcessModule(module: ProcessModule): void {
  processModule = module;
}

// Set while a child imports its target's module (Python's "bootstrapping
// phase"). A module whose main code is not guarded by `import.meta.main`
// runs that code again in every child that imports it: were it to start a
// process there, each child would start another, without end. A global
// symbol, so that every copy of this library loaded in the process (by
// another URL) sees the same flag.
const BOOTSTRAPPING = Symbol.for("multiprocessing.bootstrapping");
const flags = globalThis as { [BOOTSTRAPPING]?: string };

/**
 * Marks this child as importing its target's module (`module`), or as done
 * with it (`undefined`). Each backend's child entry marks it before the
 * import starts; {@linkcode importChildTarget} clears it.
 */
export function setBootstrapping(module: string | undefined): void {
  if (module === undefined) delete flags[BOOTSTRAPPING];
  else flags[BOOTSTRAPPING] = module;
}

/**
 * Throws when this child is still importing its target's module: starting
 * a process then is what an unguarded module does, as Python's spawn
 * refuses it.
 *
 * @param what What was to start: `"a Process"`, `"a Pool"`.
 * @param entry The public function the user called, where the error's
 * stack starts.
 * @throws {ProcessError} While the target's module is being imported.
 */
export function checkBootstrapped(
  what: string,
  entry:
    | ((...args: never[]) => unknown)
    | (abstract new (...args: never[]) => unknown),
): void {
  const module = flags[BOOTSTRAPPING];
  if (module === undefined) return;
  const error = new ProcessError(
    `Cannot start ${what} in ${identity().name} while it imports ${module} to find its target: ` +
      `that module's main code runs again in each child that imports it, which would start processes without end; ` +
      `guard the main program with \`if (import.meta.main) { ... }\`, as Python's \`if __name__ == "__main__":\``,
  );
  Error.captureStackTrace(error, entry);
  throw error;
}

/**
 * Imports a target in a child, with the child marked as bootstrapping
 * meanwhile (see {@linkcode checkBootstrapped}).
 */
export async function importChildTarget(
  spec: TargetSpec,
  role?: TargetRole,
): Promise<(...args: unknown[]) => unknown> {
  setBootstrapping(spec.module);
  try {
    return await importTarget(spec, role);
  } finally {
    setBootstrapping(undefined);
  }
}

/**
 * Waits for a child's end as `join()` does, but without keeping this
 * process running meanwhile: how the library watches children it started
 * for itself (a pool's workers), which must not keep a program running
 * that no longer uses them. `join()` keeps it running, as Python's blocks.
 *
 * @param child A started `Process`.
 * @returns Its exit code.
 */
export function joinQuietly(child: ChildLike): Promise<number | null> {
  return processModule!.joinQuietly(child);
}

/** Prints a child's uncaught error on stderr, as Python's child does. */
export function printChildError(error: unknown): void {
  const detail = error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : Deno.inspect(error);
  console.error(`Process ${identity().name}:\n${detail}`);
}

/** Runs a child's target to its end and says how it ended. */
export async function runChild(
  target: TargetSpec,
  encodedArgs: unknown[],
): Promise<ChildEnd> {
  let failed: ChildEnd | undefined;
  try {
    const fn = await importChildTarget(target);
    const args = await decode(encodedArgs) as unknown[];
    if (target.kind === "subclass") {
      await runSubclass(fn, args[0] as object);
    } else {
      await fn(...args);
    }
  } catch (error) {
    printChildError(error);
    failed = { exitCode: 1, error: errorToData(error) };
  }
  await endChildren();
  // As a Deno program does, a child that returns ends with the code it set
  // in `Deno.exitCode` (each Worker has its own).
  return failed ?? { exitCode: Deno.exitCode };
}

/**
 * Runs a `Process` subclass's `run()`: the instance is made by Process's own
 * constructor (so that its private state exists) with the subclass's
 * prototype, then given the parent's fields. The subclass's module imported
 * process.ts, which registered itself.
 */
async function runSubclass(
  subclass: (...args: unknown[]) => unknown,
  fields: object,
): Promise<void> {
  if (!processModule) {
    throw new TypeError(
      `Cannot run ${subclass.name} as a Process subclass: this child never loaded the library's process.ts; extend Process as imported from this library`,
    );
  }
  const self = Reflect.construct(
    processModule.Process,
    [{ name: identity().name }],
    subclass,
  ) as { run(): unknown };
  await Object.assign(self, fields).run();
}

async function endChildren(): Promise<void> {
  const children = processModule?.activeChildren() ?? [];
  for (const child of children) if (child.daemon) child.terminate();
  await Promise.all(children.map((child) => child.join()));
}
