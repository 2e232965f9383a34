// Task functions for pool_test.ts: a pool worker imports its task function
// by name, so each is exported here.
import { currentProcess, exit } from "../process.ts";

export function inc(x: number): number {
  return x + 1;
}

export function add(a: number, b: number): number {
  return a + b;
}

export async function slowSquare(x: number): Promise<number> {
  // Later items finish first, so unordered results really come unordered.
  await new Promise((resolve) => setTimeout(resolve, (10 - (x % 10)) * 2));
  return x * x;
}

export function pidOf(_x: unknown): number {
  return currentProcess().pid!;
}

export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

/** Throws for the item `bad`, returns the others. */
export function failOn(x: number, bad = 3): number {
  if (x === bad) throw new ValueError(`no ${x} here`);
  return x;
}

export async function rejectWith(message: string): Promise<never> {
  await Promise.resolve();
  throw new RangeError(message);
}

/** The worker dies while running this task. */
export function dieWith(code: number): void {
  exit(code);
}

/** The task starts an error outside itself, which ends its worker. */
export function throwOutside(): Promise<never> {
  setTimeout(() => {
    throw new Error("thrown from a timer");
  });
  return new Promise(() => {});
}

/**
 * Says which worker runs it (cells[0] = its pid), then blocks until
 * cells[1] becomes nonzero, counting in cells[2] how many tasks started.
 */
export function signalAndBlock(cells: Int32Array): number {
  Atomics.add(cells, 2, 1);
  Atomics.store(cells, 0, currentProcess().pid!);
  Atomics.notify(cells, 0);
  Atomics.wait(cells, 1, 0);
  return currentProcess().pid!;
}

/** Counts its runs in cells[2]. */
export function countRun(cells: Int32Array, x: number): number {
  Atomics.add(cells, 2, 1);
  return x;
}

let state: string | undefined;

export function initialize(value: string): void {
  state = `${value} in ${currentProcess().name}`;
}

export function initState(_x: unknown): string | undefined {
  return state;
}

export function failingInit(): void {
  throw new TypeError("the initializer failed");
}

export function unclonableResult(x: number): unknown {
  return x === 1 ? () => x : x;
}
