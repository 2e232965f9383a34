// A bare Worker for the raw baselines of pipe_bench.ts and queue_bench.ts:
// echoes on a MessagePort, or posts numbers one message each.
/// <reference lib="deno.worker" />
self.onmessage = (event: MessageEvent) => {
  const { mode, port, count } = event.data as {
    mode: "echo" | "flood";
    port: MessagePort;
    count: number;
  };
  if (mode === "echo") {
    port.onmessage = (e) => {
      if (e.data === -1) {
        port.close();
        self.close();
        return;
      }
      port.postMessage(e.data);
    };
    port.postMessage("ready");
    return;
  }
  port.postMessage(-1); // the start mark
  for (let i = 0; i < count; i++) port.postMessage(i);
  port.close();
  self.close();
};
