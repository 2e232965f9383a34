// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A program that takes a cluster lock, says so with its fencing token, and
// releases it when told to on stdin, saying how that went.
// Usage: deno run -A cluster_locker.ts SERVERS NAMESPACE LOCK LEASE_MS
import { connectCluster } from "../cluster.ts";

const [servers, namespace, name, lease] = Deno.args;
const cluster = await connectCluster({ servers, namespace });
const lock = new cluster.Lock(name, { lease: Number(lease) });
await lock.acquire();
console.log(`held ${lock.token}`);
for await (
  const _line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())
) {
  try {
    await lock.release();
    console.log("released");
  } catch (error) {
    console.log(
      `refused: ${(error as Error).name}: ${(error as Error).message}`,
    );
  }
  break;
}
await cluster.close();
