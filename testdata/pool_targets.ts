// Task functions for pool_test.ts: a pool worker imports its task function
// by name, so each is exported here.
import { Event } from "../event.ts";
import { emit, Pool, transfer } from "../pool.ts";
import { currentProcess, exit } from "../process.ts";
import { Value } from "../shared.ts";

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
 * The arguments of {@linkcode signalAndBlock}, made in the test: its task
 * says it started (and where, in `pid`) and waits for `release`, which the
 * test's end gives (`using`) if the test did not, passed or failed, since a
 * pool's or executor's disposal may wait for its tasks.
 */
export function blocker() {
  const started = new Event();
  const pid = new Value("i32", 0);
  const release = new Event();
  return {
    started,
    pid,
    release,
    args: [started, pid, release] as [Event, Value<"i32">, Event],
    [Symbol.dispose]: () => release.set(),
  };
}

/**
 * Says which worker runs it (in `pid`, then `started`), then waits for
 * `release`.
 */
export async function signalAndBlock(
  started: Event,
  pid: Value<"i32">,
  release: Event,
): Promise<number> {
  pid.value = currentProcess().pid!;
  started.set();
  await release.wait();
  return pid.value;
}

/** Counts its runs in `runs`. */
export function countRun(runs: Value<"i32">, x: number): number {
  runs.value += 1;
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

export function identity<T>(x: T): T {
  return x;
}

export function startPool(): string {
  const pool = new Pool({ processes: 1 });
  pool.terminate();
  return "started";
}

/** Sends 1 to `n` to the caller's onEvent, then returns `n`. */
export function emitEach(n: number): number {
  for (let i = 1; i <= n; i++) emit(i);
  return n;
}

/** Calls emit() outside a task: at import, nothing; when called, throws. */
export function emitTwiceAsync(x: number): Promise<number> {
  emit(`${x} starts`);
  return new Promise((resolve) =>
    setTimeout(() => {
      emit(`${x} ends`);
      resolve(x);
    }, 1)
  );
}

/** The buffer {@linkcode filledBuffer} returned last, in this worker. */
let lastReturned: ArrayBuffer | undefined;

/** Returns `size` bytes of `byte`, moved rather than copied. */
export function filledBuffer(size: number, byte: number): ArrayBuffer {
  const buffer = new Uint8Array(size).fill(byte).buffer;
  lastReturned = buffer;
  return transfer(buffer, [buffer]);
}

/** A typed array inside data, its buffer moved with it. */
export function samplesIn(n: number): { label: string; samples: Float64Array } {
  const samples = new Float64Array(n).map((_, i) => i * 0.5);
  return transfer({ label: `${n} samples`, samples }, [samples.buffer]);
}

/** Whether the buffer this worker's filledBuffer() returned last is detached. */
export function lastReturnedDetached(): boolean | undefined {
  return lastReturned?.detached;
}

/** Ticks of the timer {@linkcode tickEveryMs} started in this worker. */
let ticks = 0;
/** The initializer's event, and the event the next tick sets (if any). */
let tickedEvent: Event | undefined;
let onNextTick: Event | undefined;

/** Initializer: a timer in the worker that ticks every millisecond. */
export function tickEveryMs(ticked: Event): void {
  setInterval(() => {
    ticks++;
    onNextTick?.set();
    onNextTick = undefined;
  }, 1);
  tickedEvent = ticked;
}

/** How many times this worker's timer ticked so far. */
export function ticksSoFar(): number {
  return ticks;
}

/** Sets the initializer's event at this worker's next timer tick. */
export function setOnNextTick(): void {
  onNextTick = tickedEvent;
}

/** An array's items and named properties, as the task received them. */
export function describeArray(
  list: unknown[] & Record<string, unknown>,
): { items: unknown[]; named: Record<string, unknown> } {
  const named: Record<string, unknown> = {};
  for (const key of Object.keys(list)) {
    if (!/^\d+$/.test(key)) named[key] = list[key];
  }
  return { items: [...list], named };
}
