// Children that use a Manager's objects through handles passed in args.
import {
  type DictProxy,
  type EventProxy,
  type LockProxy,
  Manager,
  type ValueProxy,
} from "../manager.ts";
import type { Connection } from "../pipe.ts";
import { Process } from "../process.ts";
import { ProcessError } from "../errors.ts";

/** Sets `n` keys of its own, and counts them in `total` under `lock`. */
export async function fillDict(
  d: DictProxy<string, number>,
  total: ValueProxy<number>,
  lock: LockProxy,
  child: number,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    await d.set(`${child}:${i}`, child * 1000 + i);
    await lock.acquire();
    try {
      await total.set(await total.get() + 1);
    } finally {
      await lock.release();
    }
  }
  await d.close();
}

/** A type of the user's for `Manager.register`. */
export function makeCounter(start: number): {
  add(k: number): number;
  _secret(): string;
} {
  let n = start;
  return {
    add(k: number) {
      n += k;
      return n;
    },
    _secret: () => "hidden",
  };
}

/** Holds `d` (a reference of its own), says so, and waits to be killed. */
export async function holdUntilKilled(
  d: DictProxy<string, number>,
  done: EventProxy,
): Promise<void> {
  await d.set("child", 1);
  await done.set();
  await new Promise(() => {});
}

/** A type whose methods return shared objects (`methodToTypeid`). */
export function makeShelf(titles: string[] = []): {
  titles(): string[];
  reader(): Iterator<string>;
  newShelf(more: string[]): unknown;
} {
  return {
    titles: () => [...titles],
    reader: () => titles.values(),
    newShelf: (more: string[]) => makeShelf(more),
  };
}

/** Sets `n` keys of its own on `d`, reads each back, and closes its handle. */
export async function setKeys(
  d: DictProxy<string, number>,
  child: number,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    await d.set(`${child}:${i}`, child * 1000 + i);
    if (await d.get(`${child}:${i}`) !== child * 1000 + i) {
      throw new Error(`${child}:${i} read back wrong`);
    }
  }
  await d.close();
}

/**
 * Passes `d` on to a child of its own on `backend`, which sets keys there,
 * then sets `n` keys itself: handles a step further from the server.
 */
export async function setKeysWithGrandchild(
  d: DictProxy<string, number>,
  backend: "worker" | "subprocess",
  child: number,
  n: number,
): Promise<void> {
  const grandchild = new Process({
    target: setKeys,
    args: [d, child + 100, n],
    backend,
  });
  grandchild.start();
  try {
    await grandchild.join();
  } finally {
    if (grandchild.isAlive()) grandchild.kill();
  }
  if (grandchild.exitCode !== 0) {
    throw new Error(`The grandchild ended with ${grandchild.exitCode}`);
  }
  await setKeys(d, child, n);
}

/** Calls through `d` until it is killed, after `started` is set. */
export async function callUntilKilled(
  d: DictProxy<string, number>,
  started: EventProxy,
): Promise<void> {
  await d.set("calls", 0);
  await started.set();
  for (let i = 1;; i++) await d.set("calls", i);
}

/**
 * Waits on `event` (a call the server answers only once it is set), after
 * telling `waiting` that the server has that call; sends what the wait
 * ended with on `result`.
 */
export async function reportWait(
  event: EventProxy,
  waiting: EventProxy,
  result: Connection<{ processError: boolean; message: string }>,
): Promise<void> {
  // Both handles connected first, so that the wait goes out at once.
  await event.isSet();
  await waiting.isSet();
  const wait = event.wait();
  // Through shared memory, a later call answered means the server has
  // the wait; through sockets, a wait still on its way fails the same.
  await waiting.isSet();
  await waiting.set();
  try {
    await wait;
    result.send({ processError: false, message: "the wait ended" });
  } catch (error) {
    result.send({
      processError: error instanceof ProcessError,
      message: (error as Error).message,
    });
  }
}

/** Adds `item` under its index on `d` (a pool task). */
export async function storeItem(
  d: DictProxy<string, number>,
  item: number,
): Promise<number> {
  await d.set(`item ${item}`, item * item);
  return await d.get(`item ${item}`) as number;
}

/**
 * Starts a Manager in this child, lets a Worker child of its own set keys
 * on a dict of it, and sends what the dict then holds on `result`.
 */
export async function managerInChild(
  result: Connection<Record<string, number>>,
): Promise<void> {
  await using manager = new Manager();
  await manager.start();
  const d = await manager.dict<string, number>();
  const grandchild = new Process({
    target: setKeys,
    args: [d, 7, 5],
    backend: "worker",
  });
  grandchild.start();
  try {
    await grandchild.join();
  } finally {
    if (grandchild.isAlive()) grandchild.kill();
  }
  result.send(await d.copy() as Record<string, number>);
}
