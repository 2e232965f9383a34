// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Unit tests of giving back what a call took for a subprocess child that
// died before the answer reached it (the agent's side is in faults_test.ts).
import assert from "node:assert/strict";
import { giveBackFor } from "./give_back.ts";
import { JoinableQueue, Queue, SimpleQueue } from "../queue.ts";
import { BoundedSemaphore, Semaphore } from "../semaphore.ts";

Deno.test("an item a dead child's get took goes back on the queue", async () => {
  const queue = new Queue<string>();
  queue.putSync("kept");
  giveBackFor(queue, "getSync", queue.getSync());
  assert.equal(queue.getNowait(), "kept");
  assert.equal(queue.empty(), true, "given back once");
  const simple = new SimpleQueue<string>();
  simple.put("kept");
  giveBackFor(simple, "get", await simple.get());
  assert.equal(await simple.get(), "kept");
  assert.equal(simple.empty(), true, "given back once");
});

Deno.test("a given-back item is not counted again by a JoinableQueue", async () => {
  const queue = new JoinableQueue<number>();
  queue.putSync(1);
  giveBackFor(queue, "getNowait", queue.getNowait());
  assert.equal(queue.getNowait(), 1);
  queue.taskDone();
  assert.throws(() => queue.taskDone(), RangeError, "one put, one task");
  await queue.join();
});

Deno.test("a put is not undone: only what a call took goes back", () => {
  const queue = new Queue<number>();
  giveBackFor(queue, "put", 1);
  assert.equal(queue.empty(), true);
});

Deno.test("a unit a dead child's acquire took goes back to the semaphore", () => {
  const semaphore = new BoundedSemaphore(1);
  assert.equal(semaphore.acquireSync(), true);
  giveBackFor(semaphore, "acquire", true);
  assert.equal(semaphore.getValue(), 1);
});

Deno.test("an acquire that took nothing gives nothing back", () => {
  const semaphore = new Semaphore(0);
  giveBackFor(semaphore, "acquire", false);
  giveBackFor(semaphore, "release", undefined);
  assert.equal(semaphore.getValue(), 0);
});

Deno.test("an object that cannot undo a call is left as it is", () => {
  const plain = { value: 1 };
  giveBackFor(plain, "get", 1);
  giveBackFor(undefined, "get", 1);
  assert.deepEqual(plain, { value: 1 });
});
