// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Makes a SharedMemory, prints its name, waits until the test wrote into
// it, then ends the way Deno.args[0] says: "return", "throw", "wait" (for
// a signal), or "block" (for a signal, its main thread blocked). Deno.args[1], when given, is the name to make it with.
import { SharedMemory } from "../shared_memory.ts";

const shm = new SharedMemory({
  create: true,
  size: 64,
  name: Deno.args[1],
});
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
