// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A program that takes one item of a cluster JoinableQueue, says so, and
// then waits to be killed before calling taskDone(); with "close" after
// the queue's name, it closes its connection and returns instead, without
// calling taskDone(): it must then end by itself.
// Usage: deno run -A cluster_getter.ts SERVERS NAMESPACE QUEUE [close]
import { connectCluster } from "../cluster.ts";

const [servers, namespace, name, then] = Deno.args;
const cluster = await connectCluster({ servers, namespace });
const queue = new cluster.JoinableQueue(name);
const item = await queue.get();
console.log(`got ${JSON.stringify(item)}`);
if (then === "close") await cluster.close();
else await new Promise(() => {});
