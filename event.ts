// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * A flag shared by processes that they can wait on: Python's
 * `multiprocessing.Event`.
 *
 * ```ts
 * import { Event } from "@mp/multiprocessing/event";
 *
 * const ready = new Event();
 * setTimeout(() => ready.set(), 10); // another process would do this
 * console.log(await ready.wait()); // true
 * ```
 *
 * An event has no owner: a process that ends leaves it as it was.
 *
 * @module
 */
import { waitUntil, waitUntilSync, wake } from "./_shm/futex.ts";
import { checkRunning } from "./_shm/registry.ts";
import { deadlineOf } from "./_timeout.ts";
import {
  allocate,
  type Memory,
  type MemoryForm,
  memoryForm,
  memoryOf,
  registerSegmentClass,
} from "./_shm/memory.ts";
import { registerKind, toWire } from "./_wire.ts";
import type { WireContext, WireForm } from "./_wire.ts";

const FLAG = 0;
const SEQ = 1;
const SLEEPERS = 2;

let reviving: Memory | undefined;

/**
 * A flag that processes set, clear and wait for (Python's
 * `multiprocessing.Event`). It starts cleared.
 *
 * @example Wait, set, and clear
 * ```ts
 * import { Event } from "@mp/multiprocessing/event";
 * import assert from "node:assert/strict";
 *
 * const event = new Event();
 * assert.equal(await event.wait(10), false); // timed out
 * event.set();
 * assert.equal(event.isSet(), true);
 * assert.equal(event.waitSync(), true);
 * event.clear();
 * assert.equal(event.isSet(), false);
 * ```
 */
export class Event {
  #cells: Int32Array;

  /**
   * Makes an event, cleared.
   *
   * @example A new event is not set
   * ```ts
   * import { Event } from "@mp/multiprocessing/event";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Event().isSet(), false);
   * ```
   */
  constructor() {
    this.#cells = new Int32Array(reviving ?? allocate(12));
    reviving = undefined;
  }

  /**
   * Whether the flag is set.
   *
   * @returns `true` when set.
   *
   * @example Set, then cleared
   * ```ts
   * import { Event } from "@mp/multiprocessing/event";
   * import assert from "node:assert/strict";
   *
   * const event = new Event();
   * event.set();
   * assert.equal(event.isSet(), true);
   * event.clear();
   * assert.equal(event.isSet(), false);
   * ```
   */
  isSet(): boolean {
    return Atomics.load(this.#cells, FLAG) === 1;
  }

  /**
   * Sets the flag and wakes every waiter, in every process.
   *
   * @example Wake a waiter
   * ```ts
   * import { Event } from "@mp/multiprocessing/event";
   * import assert from "node:assert/strict";
   *
   * const event = new Event();
   * const waiting = event.wait();
   * event.set();
   * assert.equal(await waiting, true);
   * ```
   */
  set(): void {
    checkRunning();
    Atomics.store(this.#cells, FLAG, 1);
    wake(this.#cells, SEQ, Infinity, SLEEPERS);
  }

  /**
   * Clears the flag, so that waits wait again.
   *
   * @example A wait after a clear times out
   * ```ts
   * import { Event } from "@mp/multiprocessing/event";
   * import assert from "node:assert/strict";
   *
   * const event = new Event();
   * event.set();
   * event.clear();
   * assert.equal(await event.wait(10), false);
   * ```
   */
  clear(): void {
    checkRunning();
    Atomics.store(this.#cells, FLAG, 0);
  }

  /**
   * Waits, without blocking the event loop, until the flag is set.
   *
   * @param timeout Milliseconds to wait at most; `undefined` waits forever.
   * @returns `true` when the flag is set, `false` when the timeout passed
   * first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Wait with a timeout
   * ```ts
   * import { Event } from "@mp/multiprocessing/event";
   * import assert from "node:assert/strict";
   *
   * const event = new Event();
   * assert.equal(await event.wait(10), false);
   * event.set();
   * assert.equal(await event.wait(), true);
   * ```
   */
  wait(timeout?: number): Promise<boolean> {
    const deadline = deadlineOf(timeout);
    checkRunning();
    if (this.isSet()) return Promise.resolve(true);
    return waitUntil(this.#cells, SEQ, deadline, this.#isSet, SLEEPERS);
  }

  /**
   * The blocking twin of {@linkcode Event.wait}.
   *
   * @param timeout Milliseconds to wait at most; `undefined` waits forever.
   * @returns `true` when the flag is set, `false` when the timeout passed
   * first.
   * @throws {RangeError} When `timeout` is negative or NaN.
   *
   * @example Wait, blocking the thread
   * ```ts
   * import { Event } from "@mp/multiprocessing/event";
   * import assert from "node:assert/strict";
   *
   * const event = new Event();
   * assert.equal(event.waitSync(10), false);
   * event.set();
   * assert.equal(event.waitSync(), true);
   * ```
   */
  waitSync(timeout?: number): boolean {
    const deadline = deadlineOf(timeout);
    return waitUntilSync(this.#cells, SEQ, deadline, this.#isSet, SLEEPERS);
  }

  #isSet = (): boolean => this.isSet();

  /**
   * The state a child revives this event from.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    return {
      kind: "Event",
      module: import.meta.url,
      state: memoryForm(this.#cells.buffer, ctx.exporter !== undefined),
    };
  }
}

registerKind("Event", (state) => {
  reviving = memoryOf(state as MemoryForm);
  return new Event();
});
registerSegmentClass(Event);
