// Children that use a Manager's objects through handles passed in args.
import type {
  DictProxy,
  EventProxy,
  LockProxy,
  ValueProxy,
} from "../manager.ts";

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
