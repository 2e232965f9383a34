// Targets for queue_test.ts: a child imports its target by name, so each is
// exported here.
import type { JoinableQueue, Queue, SimpleQueue } from "../queue.ts";

/** Puts `count` numbers from `start` on, with put() (awaited). */
export async function putRange(
  q: Queue<number>,
  start: number,
  count: number,
): Promise<void> {
  for (let i = start; i < start + count; i++) await q.put(i);
}

/** Puts `count` numbers with putNowait() and returns at once. */
export function putNowaitThenEnd(q: Queue<number>, count: number): void {
  for (let i = 0; i < count; i++) q.putNowait(i);
}

/** Puts with putSync() (blocking the child's thread when the queue is full). */
export function putSyncRange(q: Queue<number>, count: number): void {
  for (let i = 0; i < count; i++) q.putSync(i);
}

/** Gets until it gets -1; then puts everything it got on `results`. */
export async function consume(
  q: Queue<number>,
  results: Queue<number[]>,
): Promise<void> {
  const got: number[] = [];
  for (;;) {
    const item = await q.get();
    if (item === -1) break;
    got.push(item);
  }
  await results.put(got);
}

/** As consume(), with getSync() (blocking the child's thread). */
export function consumeSync(
  q: Queue<number>,
  results: Queue<number[]>,
): void {
  const got: number[] = [];
  for (;;) {
    const item = q.getSync();
    if (item === -1) break;
    got.push(item);
  }
  results.putSync(got);
}

/** Puts `count` numbers, says so on `ready`, then idles until terminated. */
export async function putThenIdle(
  q: Queue<number>,
  count: number,
  ready: Queue<string>,
): Promise<void> {
  for (let i = 0; i < count; i++) q.putNowait(i);
  await ready.put("done");
  return new Promise(() => {});
}

/**
 * A JoinableQueue worker: puts each item on `done` before its taskDone(),
 * until it gets null.
 */
export async function work(
  q: JoinableQueue<number | null>,
  done: Queue<number>,
): Promise<void> {
  for (;;) {
    const item = await q.get();
    if (item === null) {
      q.taskDone();
      return;
    }
    await done.put(item);
    q.taskDone();
  }
}

/** Finds the queue deep inside `config` and puts `value` on it. */
export async function putNested(
  config: { deep: { queues: Map<string, Queue<string>> } },
  value: string,
): Promise<void> {
  await config.deep.queues.get("results")!.put(value);
}

/** Gets one item from `input`, puts it twice on `output`. */
export async function relay(
  input: SimpleQueue<string>,
  output: SimpleQueue<string>,
): Promise<void> {
  const item = await input.get();
  output.put(item);
  output.put(item);
}

/** Puts items of many shapes. */
export async function putShapes(q: Queue<unknown>): Promise<void> {
  for (const item of shapes()) await q.put(item);
}

/** Items of many shapes, for round trips. */
export function shapes(): unknown[] {
  return [
    0,
    -0,
    1.5,
    NaN,
    -Infinity,
    2 ** 31,
    -(2 ** 31),
    "",
    "héllo wörld ✓ 🎉",
    "x".repeat(200_000),
    true,
    false,
    null,
    undefined,
    10n ** 30n,
    [1, "two", [3]],
    { a: 1, b: { c: [new Date(7)] } },
    new Map([["k", new Set([1, 2])]]),
    new Uint8Array([1, 2, 3]),
    new Float64Array([0.5]),
  ];
}
