// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The Worker a Manager's server runs in, so that its objects answer while
// the program that started it blocks (recvSync, acquireSync). It gets the
// address and authkey, listens, posts back the address it got, and serves.
/// <reference lib="deno.worker" />
import { Listener } from "../connection.ts";
import { serve } from "./server.ts";

self.onmessage = (event: MessageEvent) => {
  const { address, authkey } = event.data;
  let listener: Listener;
  try {
    listener = new Listener(address, { authkey });
  } catch (error) {
    self.postMessage({ error: (error as Error).message });
    return;
  }
  self.postMessage({ address: listener.address });
  serve(listener);
};
