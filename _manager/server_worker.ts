// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The Worker a Manager's server runs in, so that its objects answer while
// the program that started it blocks (recvSync, acquireSync). It gets the
// address and authkey, joins its process table (to tell which threads whose
// channels it serves ended), imports the registered types, runs the
// initializer, listens, posts back the address it got, and serves. A failure
// is posted back as what it could not do.
/// <reference lib="deno.worker" />
import { Listener } from "../connection.ts";
import { importTarget, type TargetSpec } from "../_target.ts";
import { decode } from "../_wire.ts";
import { adoptTreeState } from "../_shm/registry.ts";
import { registerType, serve } from "./server.ts";

/** Runs `step`; on failure, posts `cannot: <error>` and returns false. */
async function attempt(
  cannot: string,
  step: () => unknown,
): Promise<boolean> {
  try {
    await step();
    return true;
  } catch (error) {
    self.postMessage({ error: `${cannot}: ${(error as Error).message}` });
    return false;
  }
}

self.onmessage = async (event: MessageEvent) => {
  const { address, authkey, registry, initializer, initArgs, door, tree } =
    event.data;
  adoptTreeState(tree);
  const registered = await attempt("import its registered types", async () => {
    for (const [typeid, registered] of Object.entries(registry ?? {})) {
      const { factory: spec, ...options } = registered as {
        factory: { module: string; name: string } | null;
      };
      let factory = null;
      if (spec) {
        factory = (await import(spec.module))[spec.name];
        if (typeof factory !== "function") {
          throw new TypeError(
            `The factory of ${typeid}, ${spec.name} of ${spec.module}, is not an exported function`,
          );
        }
      }
      registerType(typeid, factory, options);
    }
  });
  if (!registered) return;
  if (initializer) {
    const initialized = await attempt("run its initializer", async () => {
      const fn = await importTarget(initializer as TargetSpec, {
        noun: "the manager's initializer",
        importer: "the manager's server",
        option: "initializer",
      });
      await fn(...await decode(initArgs) as unknown[]);
    });
    if (!initialized) return;
  }
  let listener: Listener | undefined;
  const listening = await attempt("listen", () => {
    listener = new Listener(address, { authkey });
  });
  if (!listening) return;
  self.postMessage({ address: listener!.address });
  serve(listener!, door);
};
