// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Task functions the cluster tests' agents import by URL.

export function square(x: number): number {
  return x * x;
}

export function add(a: number, b: number): number {
  return a + b;
}

export function fail(message: string): never {
  throw new RangeError(message);
}

/** Returns `x` after `ms` milliseconds (a task that takes a while). */
export async function slowly(x: number, ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return x;
}

/** Squares `x` after a pause, so that a map takes long enough to be disturbed. */
export async function slowSquare(x: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return x * x;
}

/** The pid of the agent that ran it. */
export function agentPid(): number {
  return Deno.pid;
}

/** Ends the agent's process abruptly (as a crashed node would). */
export function crashAgent(): never {
  Deno.kill(Deno.pid, "SIGKILL");
  throw new Error("unreachable");
}

/** `slowly` for one item `[x, ms]`. */
export function slowlyPair([x, ms]: [number, number]): Promise<number> {
  return slowly(x, ms);
}

/** Runs until ended from outside. */
export function forever(): Promise<never> {
  setInterval(() => {}, 1000);
  return new Promise(() => {});
}

/** Joins the agent's namespace with no options and puts `item` on a queue. */
export async function putFromTask(item: string): Promise<string> {
  const { connectCluster } = await import("../cluster.ts");
  await using cluster = await connectCluster();
  await new cluster.Queue<string>("fromtask").put(item);
  return cluster.namespace;
}
