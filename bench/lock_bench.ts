// Lock throughput beside Python's multiprocessing and the raw primitive,
// in one run:
// - uncontended acquireSync()+release() pairs per second (Lock and RLock),
//   the same held with `using _ = lock.holdSync()`, and `await acquire()`
//   + release(), beside Python's acquire()+release();
// - 2 children x 50k locked increments of a shared Value, timed from the
//   moment both children are ready (and from start() to join()), beside 2
//   bare Workers doing the same under a minimal futex mutex (the raw
//   primitive: a compare-and-swap, Atomics.wait and Atomics.notify, written
//   below), and beside Python;
// - the same increments of a plain shared Int32Array under our Lock
//   (acquireSync()/release()) in 2 children, beside the minimal mutex doing
//   the same in 2 bare Workers, and in 2 of our children on memory of the
//   Lock's kind (with -A a shared segment, whose waits are the kernel's
//   futex through FFI): like with like, the lock's own cost. Each of these
//   runs counts its hand-overs, how often the lock passed from one child to
//   the other: a mutex whose waiters sleep passes it rarely, one whose
//   waiters spin and take it at once passes it at nearly every release, and
//   each pass moves the lock's and the counter's memory between cores.
//
//   deno run -A bench/lock_bench.ts
import { Barrier } from "../barrier.ts";
import { Lock, RLock } from "../lock.ts";
import { Process } from "../process.ts";
import { SharedArray, Value } from "../shared.ts";
import * as kernel from "../_shm/ffi/kernel_futex.ts";
import { notify } from "../_shm/futex.ts";
import { median, report, runPython } from "./_report.ts";

// The two children of a counting run start their loops as the raw
// mutex's bare Workers do: each counts itself ready in `go[READY]` and
// blocks the thread until the parent sets `go[GO]`, so that one notify
// lets both go at once. (After an async `Barrier.wait()` alone, the two
// children's wake-ups came up to tens of milliseconds apart on a busy
// machine: their loops ran one after the other, uncontended, and the
// span measured the gap.)
const READY = 0;
const GO = 1;

/** A child's side of the start: ready, then blocked until the parent's go. */
function waitForGo(go: Int32Array): void {
  Atomics.add(go, READY, 1);
  Atomics.notify(go, READY);
  while (Atomics.load(go, GO) === 0) Atomics.wait(go, GO, 0);
}

/** The parent's side: once `parties` are ready, lets them all go at once. */
async function letGo(go: Int32Array, parties: number): Promise<void> {
  while (Atomics.load(go, READY) < parties) {
    await Atomics.waitAsync(go, READY, Atomics.load(go, READY), 100).value;
  }
  Atomics.store(go, GO, 1);
  Atomics.notify(go, GO);
}

/** The start words of a counting run. */
function startWords(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}

/**
 * A child: `times` increments of `counter`, each under its lock, held with
 * acquireSync()/release() (as Python's `with` does) or with `using`;
 * counting its hand-overs in `passes` (the words of a plain run, whose
 * counter it leaves alone) unless `scoped`.
 */
export async function work(
  counter: Value<"i">,
  times: number,
  start: Barrier,
  scoped: boolean,
  span: SharedArray<"d">,
  k: number,
  go: Int32Array,
  passes: Int32Array,
): Promise<void> {
  await start.wait();
  waitForGo(go);
  const lock = counter.getLock();
  let handovers = 0;
  span[k] = performance.timeOrigin + performance.now();
  if (scoped) {
    for (let i = 0; i < times; i++) {
      using _ = lock.holdSync();
      counter.value += 1;
    }
  } else {
    for (let i = 0; i < times; i++) {
      lock.acquireSync();
      try {
        counter.value += 1;
        if (passes[LAST] !== k) {
          passes[LAST] = k;
          handovers++;
        }
      } finally {
        lock.release();
      }
    }
  }
  span[k + 2] = performance.timeOrigin + performance.now();
  passes[HANDOVERS + k] = handovers;
}

// The words of a plain counting run: the counter, which child made the
// last increment, and each child's count of hand-overs (increments that
// followed one of the other child's).
const COUNTER = 0;
const LAST = 1;
const HANDOVERS = 2;
/** The bytes of those words. */
const PLAIN_BYTES = 16;

/**
 * A child: `times` increments of `cells[COUNTER]`, a plain shared
 * Int32Array, each under `lock` (acquireSync()/release()): what the bare
 * Workers under the minimal futex mutex do, with our Lock.
 */
export async function workPlain(
  lock: Lock,
  cells: Int32Array,
  times: number,
  start: Barrier,
  span: Float64Array,
  k: number,
  go: Int32Array,
): Promise<void> {
  await start.wait();
  waitForGo(go);
  let handovers = 0;
  span[k] = performance.timeOrigin + performance.now();
  for (let i = 0; i < times; i++) {
    lock.acquireSync();
    cells[COUNTER] += 1;
    if (cells[LAST] !== k) {
      cells[LAST] = k;
      handovers++;
    }
    lock.release();
  }
  span[k + 2] = performance.timeOrigin + performance.now();
  cells[HANDOVERS + k] = handovers;
}

/**
 * A child: the same increments under the minimal futex mutex (as in
 * RAW_MUTEX_WORKER) on `words`, memory of the kind our Lock gets: a
 * segment where FFI is granted, whose waits go to the kernel's futex
 * through FFI, else a SharedArrayBuffer and `Atomics.wait`. Like with like
 * for our Lock, which sleeps the same way.
 */
export async function workPlainRaw(
  words: SharedArray<"i">,
  cells: Int32Array,
  times: number,
  start: Barrier,
  span: Float64Array,
  k: number,
  go: Int32Array,
): Promise<void> {
  const mutex = words.array;
  const segment = !(mutex.buffer instanceof SharedArrayBuffer);
  const sleep = segment
    ? (value: number) => kernel.waitSync(mutex, 0, value, 50)
    : (value: number) => Atomics.wait(mutex, 0, value);
  await start.wait();
  waitForGo(go);
  let handovers = 0;
  span[k] = performance.timeOrigin + performance.now();
  for (let i = 0; i < times; i++) {
    let c = Atomics.compareExchange(mutex, 0, 0, 1);
    if (c !== 0) {
      if (c !== 2) c = Atomics.exchange(mutex, 0, 2);
      while (c !== 0) {
        sleep(2);
        c = Atomics.exchange(mutex, 0, 2);
      }
    }
    cells[COUNTER] += 1;
    if (cells[LAST] !== k) {
      cells[LAST] = k;
      handovers++;
    }
    if (Atomics.sub(mutex, 0, 1) !== 1) {
      Atomics.store(mutex, 0, 0);
      notify(mutex, 0, 1);
    }
  }
  span[k + 2] = performance.timeOrigin + performance.now();
  cells[HANDOVERS + k] = handovers;
}

/**
 * The time the two children's loops took together, as they measured it
 * themselves: from the first start to the last end (wall-clock times, the
 * same clock in every thread).
 */
function loopsMs(span: ArrayLike<number>): number {
  return Math.max(span[2], span[3]) - Math.min(span[0], span[1]);
}

function pairsPerSecond(lock: Lock | RLock, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    lock.release();
  }
  return n / ((performance.now() - start) / 1000);
}

/** The same pairs, each a scope held with `using _ = lock.holdSync()`. */
function scopedPairsPerSecond(lock: Lock, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    using _ = lock.holdSync();
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * The same pairs, each in a scope that `using` a constant disposable: what
 * the language's `using` costs by itself, the floor of a scoped hold.
 */
function usingPairsPerSecond(lock: Lock, n: number): number {
  const nothing = { [Symbol.dispose]() {} };
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    using _ = nothing;
    lock.release();
  }
  return n / ((performance.now() - start) / 1000);
}

/** The same pairs with the async `await acquire()`. */
async function asyncPairsPerSecond(lock: Lock, n: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    lock.release();
  }
  return n / ((performance.now() - start) / 1000);
}

/**
 * The raw primitive: a minimal futex mutex (Drepper's "Futexes Are Tricky",
 * mutex 2: 0 free, 1 held, 2 held with sleepers) over a SharedArrayBuffer,
 * in a bare Worker that makes `times` locked increments of a shared counter
 * (`cells[1]`; `cells[2]` the last child to increment it, `cells[3 + k]`
 * child k's hand-overs).
 */
const RAW_MUTEX_WORKER = `
const FREE = 0, HELD = 1, SLEEPERS = 2;
function lock(cells) {
  let c = Atomics.compareExchange(cells, 0, FREE, HELD);
  if (c === FREE) return;
  if (c !== SLEEPERS) c = Atomics.exchange(cells, 0, SLEEPERS);
  while (c !== FREE) {
    Atomics.wait(cells, 0, SLEEPERS);
    c = Atomics.exchange(cells, 0, SLEEPERS);
  }
}
function unlock(cells) {
  if (Atomics.sub(cells, 0, 1) !== HELD) {
    Atomics.store(cells, 0, FREE);
    Atomics.notify(cells, 0, 1);
  }
}
self.onmessage = (e) => {
  const { cells, go, times, span, k } = e.data;
  Atomics.add(go, 0, 1);
  Atomics.notify(go, 0);
  while (Atomics.load(go, 1) === 0) Atomics.wait(go, 1, 0);
  let handovers = 0;
  span[k] = performance.timeOrigin + performance.now();
  for (let i = 0; i < times; i++) {
    lock(cells);
    cells[1] += 1;
    if (cells[2] !== k) {
      cells[2] = k;
      handovers++;
    }
    unlock(cells);
  }
  span[k + 2] = performance.timeOrigin + performance.now();
  cells[3 + k] = handovers;
  self.postMessage("done");
};`;

/** ms of a counting run's loops, and its hand-overs. */
interface CountingRun {
  ms: number;
  handovers: number;
}

/**
 * The loops of 2 fresh bare Workers under the raw mutex, as they
 * measured them (fresh, as our children are).
 */
async function rawCounterMs(
  source: string,
  times: number,
): Promise<CountingRun> {
  const workers = [0, 1].map(() => new Worker(source, { type: "module" }));
  try {
    return await rawCounterRun(workers, times);
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

async function rawCounterRun(
  workers: Worker[],
  times: number,
): Promise<CountingRun> {
  // [mutex, counter, last, hand-overs of each]
  const cells = new Int32Array(new SharedArrayBuffer(20));
  cells[2] = -1;
  const go = startWords();
  const span = new Float64Array(new SharedArrayBuffer(32));
  const done = workers.map((worker) =>
    new Promise((resolve) => worker.onmessage = resolve)
  );
  workers.forEach((worker, k) =>
    worker.postMessage({ cells, go, times, span, k })
  );
  await letGo(go, workers.length);
  await Promise.all(done);
  if (cells[1] !== workers.length * times) {
    throw new Error(`raw counter is ${cells[1]}, expected ${2 * times}`);
  }
  return { ms: loopsMs(span), handovers: cells[3] + cells[4] };
}

/**
 * The loops of 2 Worker children making `times` increments of a plain
 * Int32Array, as they measured them: under our Lock, or (`raw`) under the
 * minimal futex mutex on memory of the Lock's kind.
 */
async function plainCounterMs(
  times: number,
  raw = false,
): Promise<CountingRun> {
  const cells = new Int32Array(new SharedArrayBuffer(PLAIN_BYTES));
  cells[LAST] = -1;
  const start = new Barrier(3);
  const span = new Float64Array(new SharedArrayBuffer(32));
  const go = startWords();
  const words = new SharedArray("i", 1, { lock: false });
  const lock = new Lock();
  const children = [0, 1].map((k) =>
    raw
      ? new Process({
        target: workPlainRaw,
        args: [words, cells, times, start, span, k, go],
      })
      : new Process({
        target: workPlain,
        args: [lock, cells, times, start, span, k, go],
      })
  );
  for (const p of children) p.start();
  await start.wait();
  await letGo(go, 2);
  for (const p of children) await p.join();
  if (cells[COUNTER] !== 2 * times) {
    throw new Error(
      `plain counter is ${cells[COUNTER]}, expected ${2 * times}`,
    );
  }
  return {
    ms: loopsMs(span),
    handovers: cells[HANDOVERS] + cells[HANDOVERS + 1],
  };
}

/**
 * ms from both children ready to both joined, from start() to join(), of
 * their loops as they measured them, and the hand-overs.
 */
async function counterMs(
  times: number,
  scoped = false,
): Promise<[number, number, number, number]> {
  const counter = new Value("i", 0);
  const start = new Barrier(3);
  const span = new SharedArray("d", 4, { lock: false });
  const go = startWords();
  const passes = new Int32Array(new SharedArrayBuffer(PLAIN_BYTES));
  passes[LAST] = -1;
  const began = performance.now();
  const children = [0, 1].map((k) =>
    new Process({
      target: work,
      args: [counter, times, start, scoped, span, k, go, passes],
    })
  );
  for (const p of children) p.start();
  await start.wait();
  const ready = performance.now();
  await letGo(go, 2);
  for (const p of children) await p.join();
  const end = performance.now();
  if (counter.value !== 2 * times) {
    throw new Error(`counter is ${counter.value}, expected ${2 * times}`);
  }
  return [
    end - ready,
    end - began,
    loopsMs(span),
    passes[HANDOVERS] + passes[HANDOVERS + 1],
  ];
}

if (import.meta.main) {
  const runs = 5;
  const n = 1_000_000;
  pairsPerSecond(new Lock(), n); // warm up
  const lock = median(
    Array.from({ length: runs }, () => pairsPerSecond(new Lock(), n)),
  );
  const rlock = median(
    Array.from({ length: runs }, () => pairsPerSecond(new RLock(), n)),
  );
  const source = URL.createObjectURL(
    new Blob([RAW_MUTEX_WORKER], { type: "text/javascript" }),
  );
  // Our children and the raw mutex's bare Workers take turns, so that a
  // change of load weighs on both alike; each ratio is the median of the
  // rounds' ratios (more rounds than elsewhere: these rows move most with
  // the load).
  const rounds = 9;
  const counts: [number, number, number, number][] = [];
  const rawRuns: CountingRun[] = [];
  const plainRuns: CountingRun[] = [];
  const plainRawRuns: CountingRun[] = [];
  const plainLikeRuns: CountingRun[] = [];
  try {
    await counterMs(1000); // warm up
    await rawCounterMs(source, 1000);
    for (let i = 0; i < rounds; i++) {
      counts.push(await counterMs(50_000));
      rawRuns.push(await rawCounterMs(source, 50_000));
    }
    await plainCounterMs(1000); // warm up
    await plainCounterMs(1000, true);
    for (let i = 0; i < rounds; i++) {
      plainRuns.push(await plainCounterMs(50_000));
      plainRawRuns.push(await rawCounterMs(source, 50_000));
      plainLikeRuns.push(await plainCounterMs(50_000, true));
    }
  } finally {
    URL.revokeObjectURL(source);
  }
  const counter = median(counts.map((c) => c[0]));
  const counterTotal = median(counts.map((c) => c[1]));
  const raw = median(rawRuns.map((r) => r.ms));
  const loops = median(counts.map((c) => c[2]));
  const loopsOverRaw = median(counts.map((c, i) => c[2] / rawRuns[i].ms));
  const scopedRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    scopedRuns.push((await counterMs(50_000, true))[0]);
  }
  const scoped = median(scopedRuns);
  const plain = median(plainRuns.map((r) => r.ms));
  const plainOverRaw = median(
    plainRuns.map((p, i) => p.ms / plainRawRuns[i].ms),
  );
  const plainOverLike = median(
    plainRuns.map((p, i) => p.ms / plainLikeRuns[i].ms),
  );
  const likeOverRaw = median(
    plainLikeRuns.map((p, i) => p.ms / plainRawRuns[i].ms),
  );
  const handovers = (runs: CountingRun[]) =>
    median(runs.map((r) => r.handovers));
  // Plain and scoped pairs take turns, so that a change of load weighs on
  // both alike; the ratio is the median of each round's.
  const plainPairs: number[] = [];
  const scopedPairs: number[] = [];
  const usingPairs: number[] = [];
  scopedPairsPerSecond(new Lock(), n); // warm up
  usingPairsPerSecond(new Lock(), n);
  for (let i = 0; i < runs; i++) {
    plainPairs.push(pairsPerSecond(new Lock(), n));
    scopedPairs.push(scopedPairsPerSecond(new Lock(), n));
    usingPairs.push(usingPairsPerSecond(new Lock(), n));
  }
  const holdCost = median(plainPairs.map((p, i) => p / scopedPairs[i]));
  const holdOverUsing = median(usingPairs.map((p, i) => p / scopedPairs[i]));
  await asyncPairsPerSecond(new Lock(), n / 10); // warm up
  const asyncRuns: number[] = [];
  for (let i = 0; i < runs; i++) {
    asyncRuns.push(await asyncPairsPerSecond(new Lock(), n));
  }
  const asyncPairs = median(asyncRuns);
  const py = await runPython("lock_bench.py", [String(runs)]);

  report("Locks: uncontended pairs, and 2 x 50k locked increments", [
    { what: "Lock acquireSync+release", value: lock, unit: "pairs/s" },
    {
      what: "Python Lock acquire+release",
      value: py.lock_pairs_per_s,
      unit: "pairs/s",
    },
    {
      what: "Lock held with `using _ = lock.holdSync()`",
      value: median(scopedPairs),
      unit: "pairs/s",
    },
    {
      what:
        "Lock acquireSync+release in a scope `using` a constant disposable (the language's cost)",
      value: median(usingPairs),
      unit: "pairs/s",
    },
    {
      what: "Lock `await acquire()`+release",
      value: asyncPairs,
      unit: "pairs/s",
    },
    { what: "RLock acquireSync+release", value: rlock, unit: "pairs/s" },
    {
      what: "Python RLock acquire+release",
      value: py.rlock_pairs_per_s,
      unit: "pairs/s",
    },
    { what: "2 x 50k increments (from ready)", value: counter, unit: "ms" },
    {
      what: "Python 2 x 50k increments (from ready)",
      value: py.counter_ms,
      unit: "ms",
    },
    {
      what: "2 x 50k increments (start to join)",
      value: counterTotal,
      unit: "ms",
    },
    {
      what: "Python 2 x 50k increments (start to join)",
      value: py.counter_total_ms,
      unit: "ms",
    },
    {
      what: "2 x 50k increments held with `using` (from ready)",
      value: scoped,
      unit: "ms",
    },
    {
      what: "2 x 50k increments, the children's loops as they timed them",
      value: loops,
      unit: "ms",
    },
    {
      what:
        "2 bare Workers x 50k increments under a minimal futex mutex, their loops (in turns)",
      value: raw,
      unit: "ms",
    },
    {
      what:
        "2 children x 50k increments of a plain Int32Array under a Lock, their loops",
      value: plain,
      unit: "ms",
    },
    {
      what: "the same under the minimal futex mutex in bare Workers (in turns)",
      value: median(plainRawRuns.map((r) => r.ms)),
      unit: "ms",
    },
    {
      what:
        "the same under the minimal futex mutex in 2 children, on memory of the Lock's kind (in turns)",
      value: median(plainLikeRuns.map((r) => r.ms)),
      unit: "ms",
    },
    {
      what: "hand-overs between the 2 children: Value increments",
      value: median(counts.map((c) => c[3])),
      unit: "",
    },
    {
      what: "hand-overs: the minimal futex mutex, bare Workers (Value rounds)",
      value: handovers(rawRuns),
      unit: "",
    },
    {
      what: "hand-overs: plain increments under a Lock",
      value: handovers(plainRuns),
      unit: "",
    },
    {
      what: "hand-overs: the minimal futex mutex, bare Workers (plain rounds)",
      value: handovers(plainRawRuns),
      unit: "",
    },
    {
      what: "hand-overs: the minimal futex mutex, children, the Lock's memory",
      value: handovers(plainLikeRuns),
      unit: "",
    },
  ], [{
    what: "Lock pairs/s: ours / Python",
    value: lock / py.lock_pairs_per_s,
    target: ">= 1",
    met: lock >= py.lock_pairs_per_s,
  }, {
    what: "RLock pairs/s: ours / Python",
    value: rlock / py.rlock_pairs_per_s,
    target: "(reported)",
    met: true,
  }, {
    what: "increments time: ours / Python (from ready)",
    value: counter / py.counter_ms,
    target: "<= 1",
    met: counter <= py.counter_ms,
  }, {
    what: "increments time: ours / Python (start to join)",
    value: counterTotal / py.counter_total_ms,
    target: "(reported)",
    met: true,
  }, {
    what: "increments time with `using`: ours / Python (from ready)",
    value: scoped / py.counter_ms,
    target: "(reported)",
    met: true,
  }, {
    what:
      "increments loops: ours / minimal futex mutex in bare Workers (median of rounds)",
    value: loopsOverRaw,
    target: "<= 1.5",
    met: loopsOverRaw <= 1.5,
  }, {
    what:
      "plain increments loops: Lock / minimal futex mutex in bare Workers (median of rounds)",
    value: plainOverRaw,
    target: "<= 1.5",
    met: plainOverRaw <= 1.5,
  }, {
    what:
      "plain increments loops: Lock / minimal futex mutex in children on the Lock's memory (like with like)",
    value: plainOverLike,
    target: "(reported)",
    met: true,
  }, {
    what:
      "plain increments loops: minimal futex mutex, children on the Lock's memory / bare Workers",
    value: likeOverRaw,
    target: "(reported)",
    met: true,
  }, {
    what: "pair time: holdSync() scope / acquireSync()+release()",
    value: holdCost,
    target: "<= 1.2",
    met: holdCost <= 1.2,
  }, {
    what:
      "pair time: holdSync() scope / acquireSync()+release() in a scope `using` a constant",
    value: holdOverUsing,
    target: "<= 1.2",
    met: holdOverUsing <= 1.2,
  }, {
    what: "pair time: await acquire()+release() / Python acquire()+release()",
    value: py.lock_pairs_per_s / asyncPairs,
    target: "<= 1",
    met: asyncPairs >= py.lock_pairs_per_s,
  }]);
}
