// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A program that takes one item of a cluster JoinableQueue, says so, and
// then waits to be killed before calling taskDone().
// Usage: deno run -A cluster_getter.ts SERVERS NAMESPACE QUEUE
import { connectCluster } from "../cluster.ts";

const [servers, namespace, name] = Deno.args;
const cluster = await connectCluster({ servers, namespace });
const queue = new cluster.JoinableQueue(name);
const item = await queue.get();
console.log(`got ${JSON.stringify(item)}`);
await new Promise(() => {});
