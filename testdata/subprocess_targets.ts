// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Targets for subprocess_test.ts: a child imports its target by name, so
// each is exported here.
import type { Event } from "../event.ts";
import { Process } from "../process.ts";
import type { Lock } from "../lock.ts";
import type { Connection } from "../pipe.ts";
import type { Queue } from "../queue.ts";
import { type SharedArray, Value } from "../shared.ts";

/** Blocks this thread for good (a child stuck in a native call). */
function blockForever(): never {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error("unreachable");
}

/** Tells the parent it runs, then blocks until it is killed. */
export function signalThenBlock(started: Event): void {
  started.set();
  blockForever();
}

/** Takes the lock, tells the parent, then blocks until it is killed. */
export async function holdLockThenBlock(
  lock: Lock,
  holding: Event,
): Promise<void> {
  await lock.acquire();
  holding.set();
  blockForever();
}

/** Allocates until V8 gives up (run with a small heap). */
export function exhaustMemory(): void {
  const hoard: number[][] = [];
  while (true) hoard.push(new Array(1 << 20).fill(hoard.length));
}

/** Reads a file; fails without read permission. */
export function readFile(path: string): void {
  Deno.readTextFileSync(path);
}

/** Fails unless the child holds exactly the given permission states. */
export function expectPermissions(expected: Record<string, string>): void {
  for (const [name, state] of Object.entries(expected)) {
    const actual = Deno.permissions.querySync(
      { name } as Deno.PermissionDescriptor,
    ).state;
    if (actual !== state) {
      throw new Error(`${name} permission is ${actual}, expected ${state}`);
    }
  }
}

/** Exits with `code`, or is signalled by itself. */
export function exitWith(code: number): void {
  Deno.exit(code);
}

/** Sends its own pid back and checks its OS identity. */
export function reportPid(values: Value<"i32">): void {
  values.value = Deno.pid;
}

/** Works on shared values: getters, setters, methods, elements. */
export function useShared(
  value: Value<"f64">,
  array: SharedArray<"i32">,
): void {
  value.value = value.value * 2;
  array.set(0, array.get(1) + array.length);
  const view = array.array;
  view[2] = 30;
  {
    using _ = value.getLock().holdSync();
    value.value += 1;
  }
}

/** Puts the numbers in order, then `null`, using both put and putSync. */
export async function produce(queue: Queue<number | null>, n: number) {
  for (let i = 0; i < n; i++) {
    if (i % 2) await queue.put(i);
    else queue.putSync(i);
  }
  await queue.put(null);
}

/** Reads the queue with `for await` and sends back the sum. */
export async function sumQueue(queue: Queue<number>, result: Value<"i32">) {
  let sum = 0;
  for await (const item of queue) {
    if (item < 0) break;
    sum += item;
  }
  result.value = sum;
}

/** Waits for the event with the blocking and the async twin. */
export async function waitBoth(go: Event, done: Event): Promise<void> {
  if (!go.waitSync(10_000)) throw new Error("waitSync timed out");
  if (!(await go.wait(10_000))) throw new Error("wait timed out");
  done.set();
}

/** Throws an error with a cause. */
export function fail(): void {
  throw new RangeError("out of range in the child", {
    cause: new TypeError("the cause"),
  });
}

/** Sets the value after a timer: the child must await the target. */
export async function setLater(value: Value<"i32">): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  value.value = 42;
}

/** Adds one under the value's lock. */
export function addOne(value: Value<"i32">): void {
  using _ = value.getLock().holdSync();
  value.value += 1;
}

/**
 * Passes its proxied value on to a subprocess and a Worker grandchild, which
 * each add one; writes their exit codes into `codes`.
 */
export async function startGrandchildren(
  value: Value<"i32">,
  codes: SharedArray<"i32">,
): Promise<void> {
  const kids = (["subprocess", "worker"] as const).map((backend) =>
    new Process({ target: addOne, args: [value], backend })
  );
  for (const kid of kids) kid.start();
  for (let i = 0; i < kids.length; i++) {
    codes.set(i, (await kids[i].join()) ?? -100);
  }
}

/** Never settles: a child that idles until it is ended. */
export function idle(): Promise<void> {
  return new Promise(() => {});
}

/** Starts an idle daemon grandchild, tells its pid, and returns. */
export function leaveDaemon(pid: Value<"i32">): void {
  const p = new Process({ target: idle, daemon: true, backend: "subprocess" });
  p.start();
  pid.value = p.pid!;
}

/** A Process subclass: the child runs its run() with the parent's fields. */
export class ValueWriter extends Process {
  constructor(public out: Value<"i32">, public amount: number) {
    super({ backend: "subprocess", name: "writer" });
  }
  override run(): void {
    this.out.value = this.amount + (this.name === "writer" ? 1 : 0);
  }
}

/** Checks values JSON cannot carry, and a long one; sets `ok` to 1. */
export function checkRichArgs(
  ok: Value<"i32">,
  long: string,
  rich: { map: Map<string, Set<number>>; date: Date; none: undefined },
  big: bigint,
): void {
  const fine = long.length === 200_000 && long.endsWith("z") &&
    rich.map.get("k")?.has(2) === true && rich.date.getTime() === 7 &&
    "none" in rich && rich.none === undefined && big === 10n ** 30n;
  ok.value = fine ? 1 : -1;
}

/**
 * Makes a Value here and sends it to the parent over the pipe; once the
 * parent has written it and set `written`, reports what it reads.
 */
export async function sendOwnValue(
  conn: Connection,
  written: Event,
  seen: Value<"i32">,
): Promise<void> {
  const mine = new Value("i32", 5);
  conn.send(mine);
  if (!(await written.wait(30_000))) throw new Error("never written");
  seen.value = mine.value;
}

/** Passes a function to a proxied method: a DataCloneError. */
export function passFunction(done: Event): void {
  try {
    (done.wait as unknown as (f: () => void) => void)(() => {});
  } catch (error) {
    if ((error as Error).name === "DataCloneError") return;
    throw error;
  }
  throw new Error("a function was passed to the parent");
}
