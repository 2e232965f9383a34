// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The Worker a Manager's server runs in, so that its objects answer while
// the program that started it blocks (recvSync, acquireSync). It gets the
// address and authkey, listens, posts back the address it got, and serves.
/// <reference lib="deno.worker" />
import { Listener } from "../connection.ts";
import { registerType, serve } from "./server.ts";

self.onmessage = async (event: MessageEvent) => {
  const { address, authkey, registry, local } = event.data;
  let listener: Listener;
  try {
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
    listener = new Listener(address, { authkey });
  } catch (error) {
    self.postMessage({ error: (error as Error).message });
    return;
  }
  self.postMessage({ address: listener.address });
  serve(listener, local);
};
