// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Makes a SharedMemory, prints its name, waits until the test wrote into
// it, then ends the way Deno.args[0] says: "return", "throw", "wait" (for
// a signal), or "block" (for a signal, its main thread blocked).
// Deno.args[1], when given, is the name to make it with; or "manager" to
// make it through a SharedMemoryManager, which it never shuts down.
import { SharedMemory, SharedMemoryManager } from "../shared_memory.ts";

async function made(how: string | undefined): Promise<SharedMemory> {
  if (how !== "manager") {
    return new SharedMemory({ create: true, size: 64, name: how });
  }
  const smm = new SharedMemoryManager();
  await smm.start();
  return smm.SharedMemory(64);
}

const shm = await made(Deno.args[1]);
shm.buf[0] = 1;
console.log(shm.name);
while (Atomics.load(new Int32Array(shm.buf.buffer, 0, 2), 1) === 0) {
  await new Promise((resolve) => setTimeout(resolve, 5));
}
console.log("seen");
if (Deno.args[0] === "throw") throw new Error("the program failed");
if (Deno.args[0] === "wait") setInterval(() => {}, 1000);
if (Deno.args[0] === "block") {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
