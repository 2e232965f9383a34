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
// target did not import it) has no children to wait for. process.ts
// registers its list of live children when it loads.
interface ChildLike {
  readonly daemon: boolean;
  terminate(): void;
  join(): Promise<number | null>;
}
let liveChildren: () => ChildLike[] = () => [];

/** Called by process.ts when it loads, with its `activeChildren`. */
export function trackChildren(children: () => ChildLike[]): void {
  liveChildren = children;
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
      // Made by Process's own constructor (so that its private state exists)
      // with the subclass's prototype, then given the parent's fields.
      // The subclass's module imported process.ts, so this import is one
      // the module map already holds (no read permission needed).
      const { Process } = await import("../process.ts");
      const self = Reflect.construct(Process, [{ name: identity().name }], fn);
      await Object.assign(self, args[0]).run();
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

async function endChildren(): Promise<void> {
  const children = liveChildren();
  for (const child of children) if (child.daemon) child.terminate();
  await Promise.all(children.map((child) => child.join()));
}
