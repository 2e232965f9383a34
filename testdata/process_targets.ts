// Targets for process_test.ts: a child imports its target by name, so each
// is exported here.
import {
  type Backend,
  currentProcess,
  exit,
  getStartMethod,
  parentProcess,
  Process,
} from "../process.ts";
import type { SharedArray } from "../shared.ts";

/**
 * Cells a test shares with its children: a raw `SharedArrayBuffer` for
 * Worker children, a `SharedArray` in shared memory for subprocess
 * children (raw memory cannot enter another OS process).
 */
export type Cells = Int32Array | SharedArray<"i32">;

/** The words of `cells`. */
export function wordsOf(cells: Cells): Int32Array {
  return cells instanceof Int32Array ? cells : cells.array;
}

export function noop(): void {}

export async function asyncWork(cells: Cells): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  Atomics.store(wordsOf(cells), 0, 42);
}

export function writeCell(cells: Cells, index: number, value: number) {
  Atomics.store(wordsOf(cells), index, value);
  Atomics.notify(wordsOf(cells), index);
}

export class ValueError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ValueError";
  }
}

export function fail(message: string): void {
  throw new ValueError(message, { cause: new RangeError("the cause") });
}

export async function failLater(): Promise<void> {
  await Promise.resolve();
  throw new TypeError("rejected");
}

export function exitWith(code: number): void {
  exit(code);
}

export function denoExit(code: number): void {
  Deno.exit(code);
}

export function closeSelf(): void {
  (globalThis as unknown as { close(): void }).close();
}

/** Blocks its thread until the parent ends it. */
export function block(cells: Cells): void {
  Atomics.store(wordsOf(cells), 0, 1);
  Atomics.notify(wordsOf(cells), 0);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

/** Never settles, and never blocks: the child stays alive, idle. */
export function idle(): Promise<void> {
  return new Promise(() => {});
}

export function throwInTimer(): Promise<void> {
  setTimeout(() => {
    throw new SyntaxError("thrown from a timer");
  }, 0);
  return new Promise(() => {});
}

export function rejectUnhandled(): Promise<void> {
  Promise.reject(new EvalError("nobody awaited this"));
  return new Promise(() => {});
}

/** Checks what a child knows of itself and its parent; throws if wrong. */
export function checkIdentity(name: string, parentPid: number): void {
  const self = currentProcess();
  const parent = parentProcess();
  const facts = {
    name: self.name,
    pid: self.pid,
    parentPid: parent?.pid,
    parentAlive: parent?.isAlive(),
  };
  if (
    facts.name !== name || facts.parentPid !== parentPid ||
    !facts.parentAlive || !(typeof facts.pid === "number" && facts.pid > 0)
  ) {
    throw new Error(`wrong identity: ${JSON.stringify(facts)}`);
  }
}

/**
 * Checks that this child's start method is `expected`, as is that of a
 * grandchild it starts without naming a backend; throws if not.
 */
export async function checkStartMethod(
  expected: Backend,
  depth = 1,
): Promise<void> {
  const got = { startMethod: getStartMethod(), new: new Process().backend };
  if (got.startMethod !== expected || got.new !== expected) {
    throw new Error(`At depth ${depth}: ${JSON.stringify(got)}`);
  }
  if (depth === 2) return;
  const p = new Process({ target: checkStartMethod, args: [expected, 2] });
  p.start();
  if (await p.join() !== 0) throw p.error;
}

/**
 * Joins its parent, which lives on: the join waits out its timeout and
 * resolves with `null`, as Python's returns; joining itself throws.
 */
export async function joinParent(timeout: number): Promise<void> {
  const parent = parentProcess()!;
  const got = await parent.join(timeout);
  if (got !== null || !parent.isAlive()) {
    throw new Error(`join gave ${got}, alive ${parent.isAlive()}`);
  }
  const self = await currentProcess().join().then(() => "joined", String);
  if (!/Cannot join .*: it is this process/.test(self)) throw new Error(self);
}

/** Starts a grandchild that writes 7 into cells[1], and waits for it. */
export async function startGrandchild(cells: Cells): Promise<void> {
  const p = new Process({ target: writeCell, args: [cells, 1, 7] });
  p.start();
  const code = await p.join();
  Atomics.store(wordsOf(cells), 2, (code ?? -100) + 1);
}

/** Starts an idle daemon grandchild and returns: the daemon must be ended. */
export function leaveDaemon(cells: Cells): void {
  const p = new Process({ target: block, args: [cells], daemon: true });
  p.start();
}

export function mutate(data: { list: number[] }, cells: Cells): void {
  data.list.push(4);
  Atomics.store(wordsOf(cells), 0, data.list.length);
}

/** A Process subclass: the child runs its run() with the parent's fields. */
export class CellWriter extends Process {
  constructor(
    public cells: Cells,
    public value: number,
    backend?: Backend,
  ) {
    super({ backend, name: "writer" });
  }
  override run(): void {
    Atomics.store(wordsOf(this.cells), 0, this.value);
    Atomics.store(wordsOf(this.cells), 1, this.name === "writer" ? 1 : 2);
  }
}
