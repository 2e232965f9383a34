// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What a call took for a subprocess child that died before the answer
// reached it goes back: the agent that acted for the child (see
// _backend/subprocess/proxy/agent.ts) finds the child's socket closed when
// it answers, and hands what the call returned to the primitive, which
// undoes the call (an item goes back on the queue, a unit back to the
// semaphore). A call whose answer was written before the child died counts
// as done: the child had it, as a child that dies just after a get has.
import { exempt } from "./registry.ts";

/** The method a primitive undoes a call of a child that died with. */
export const giveBack: unique symbol = Symbol("multiprocessing.giveBack");

/** A primitive that can undo what a call of it took. */
export interface GivesBack {
  /**
   * Undoes the call of `method` that returned `result`.
   *
   * @returns Whether there was something to undo.
   */
  [giveBack](method: string, result: unknown): boolean;
}

/**
 * Undoes the call of `method` on `target` that returned `result`, if the
 * target knows how; done for a child that has ended, so it bypasses the
 * check that refuses that child's calls.
 */
export function giveBackFor(
  target: unknown,
  method: string,
  result: unknown,
): void {
  const undo = (target as Partial<GivesBack>)?.[giveBack];
  if (typeof undo === "function") {
    exempt(() => undo.call(target, method, result));
  }
}
