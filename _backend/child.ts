// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What every child runs, on any backend: import the target, revive its
// arguments, run it, then wait for its own non-daemon children and end its
// daemon ones, as Python's child bootstrap does.
import type { ChildEnd } from "./launcher.ts";
import { errorToData } from "../_error.ts";
import { identity } from "../_shm/registry.ts";
import { importTarget, type TargetSpec } from "../_target.ts";
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
}

let processModule: ProcessModule | undefined;

/** Called by process.ts when it loads. */
export function registerProcessModule(module: ProcessModule): void {
  processModule = module;
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
  let end: ChildEnd;
  try {
    const fn = await importTarget(target);
    const args = await decode(encodedArgs) as unknown[];
    if (target.kind === "subclass") {
      await runSubclass(fn, args[0] as object);
    } else {
      await fn(...args);
    }
    end = { exitCode: 0 };
  } catch (error) {
    printChildError(error);
    end = { exitCode: 1, error: errorToData(error) };
  }
  await endChildren();
  return end;
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
