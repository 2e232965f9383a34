// The raw primitive of the round-trip benchmarks: a bare Worker that posts
// back, on a MessageChannel, whatever is posted to it (_raw_echo_worker.ts).

/** A bare Worker echoing on a MessageChannel. */
export interface RawEcho {
  /** Posts `value` and waits for it to come back. */
  trip(value: unknown): Promise<unknown>;
  /** Ends the Worker and closes this side's port. */
  close(): void;
}

/** Starts a bare echoing Worker on a new MessageChannel, once it is ready. */
export async function rawEcho(): Promise<RawEcho> {
  const worker = new Worker(new URL("./_raw_echo_worker.ts", import.meta.url), {
    type: "module",
  });
  const { port1, port2 } = new MessageChannel();
  const next = () =>
    new Promise<unknown>((resolve) => {
      port1.onmessage = (e) => resolve(e.data);
    });
  const ready = next();
  worker.postMessage({ mode: "echo", port: port2 }, [port2]);
  await ready;
  return {
    trip(value) {
      const reply = next();
      port1.postMessage(value);
      return reply;
    },
    close() {
      port1.postMessage(-1);
      port1.close();
    },
  };
}
