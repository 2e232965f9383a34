// Children that use a Manager's objects through handles passed in args.
import type { DictProxy, LockProxy, ValueProxy } from "../manager.ts";

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
