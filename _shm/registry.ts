// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Who this process is, and which processes of the tree are alive.
 *
 * Every process of a tree of Workers shares one table in a
 * `SharedArrayBuffer`, made by the root and handed to each child at start.
 * A child's parent marks it alive before it runs and ended (with all its
 * descendants) when it ends, whichever way it ended. Primitives that record
 * an owner (a `Lock`) ask {@linkcode isAlive} to tell a held lock from an
 * abandoned one. Every operation of a primitive, and every wait after each
 * wake-up, calls {@linkcode checkRunning}: a child whose parent ended it
 * (a Worker thread busy in synchronous code, which `terminate()` does not
 * stop, or the agent that acts for a subprocess child) gets an error there
 * instead of an effect.
 *
 * @module
 */

import { ProcessError } from "../errors.ts";
import { type Readlink, readlinkCall } from "./ffi/libc.ts";
import {
  allocate,
  inSegment,
  type MemoryForm,
  memoryForm,
  memoryOf,
  type SegmentSlice,
  setTreeHooks,
} from "./memory.ts";

/** Worker pids start above the largest Linux pid, so they never look like an OS pid. */
export const WORKER_PID_BASE = 1 << 22;
const SLOTS = 4096;
// Layout (Int32): [0] next worker number; [1] the root's pid, alive as long
// as the tree is; [2, 2+SLOTS) the pid in each slot; [2+SLOTS, 2+2*SLOTS)
// the parent pid of that slot.
const ROOT = 1;
const PIDS = 2;
const PARENTS = 2 + SLOTS;

/** What a process knows of itself. */
export interface Identity {
  pid: number;
  name: string;
  daemon: boolean;
  parentPid: number | null;
  parentName: string | null;
}

/** What a child is handed so it can join its parent's tree. */
export interface TreeState {
  table: MemoryForm;
  self: Identity;
}

let table: Int32Array | undefined;
let self: Identity = {
  pid: Deno.pid,
  name: "MainProcess",
  daemon: false,
  parentPid: null,
  parentName: null,
};

// The cell of the table that holds this process's own pid while it runs,
// found once: checkRunning() is one load. -1 in the root, which no parent
// can end. A child that was ended before it looked points at ROOT, which
// never holds a child's pid.
let ownCell = -1;
let exempted = false;

// The main thread of a subprocess child (its parent's launcher left this
// global for its entry, which removes it once this module has loaded).
const subprocessChild = !("WorkerGlobalScope" in globalThis) &&
  Symbol.for("multiprocessing.startInfo") in globalThis;

function tree(): Int32Array {
  if (!table) {
    // The root's table is in shared memory where primitives are (see
    // memory.ts), so that subprocess children can join it. A subprocess
    // child starts with a table of its own, in a SharedArrayBuffer (no FFI
    // at its start-up), and joins its parent's with the first primitive
    // that comes to it in shared memory.
    const bytes = 4 * (2 + 2 * SLOTS);
    table = new Int32Array(
      subprocessChild ? new SharedArrayBuffer(bytes) : allocate(bytes),
    );
    table[ROOT] = self.pid;
  }
  return table;
}

/** The identity of the table in shared memory this process uses, if any. */
let joined: string | undefined;

function keyOf(slice: SegmentSlice): string {
  return `${slice.token}:${slice.offset}`;
}

setTreeHooks({
  form: () => {
    const t = tree();
    if (!inSegment(t.buffer)) return undefined;
    const form = memoryForm(t.buffer) as SegmentSlice;
    joined ??= keyOf(form);
    return form;
  },
  join: (slice) => {
    if (joined === keyOf(slice)) return;
    const local = table;
    const shared = new Int32Array(memoryOf({ ...slice, tree: undefined }));
    table = shared;
    joined = keyOf(slice);
    // This process's own children, which the shared table does not know.
    if (local) {
      for (let i = 0; i < SLOTS; i++) {
        const pid = Atomics.load(local, PIDS + i);
        if (pid === 0 || pid === self.pid || pid === shared[ROOT]) continue;
        if (slotOf(shared, pid) < 0) {
          mark(pid, Atomics.load(local, PARENTS + i));
        }
      }
    }
    if (self.pid === shared[ROOT]) ownCell = -1;
    else {
      if (slotOf(shared, self.pid) < 0) mark(self.pid, self.parentPid ?? 0);
      ownCell = PIDS + slotOf(shared, self.pid);
    }
  },
});

// A pid lives in one of the PROBES slots from `pid % SLOTS` on: OS pids
// (subprocess children) and Worker pids would otherwise share a slot now
// and then, and one would make the other look ended.
const PROBES = 64;

function slotOf(t: Int32Array, pid: number): number {
  for (let i = 0; i < PROBES; i++) {
    const slot = (pid + i) % SLOTS;
    if (Atomics.load(t, PIDS + slot) === pid) return slot;
  }
  return -1;
}

function mark(pid: number, parentPid: number): void {
  const t = tree();
  let slot = slotOf(t, pid);
  for (let i = 0; slot < 0 && i < PROBES; i++) {
    const free = (pid + i) % SLOTS;
    if (Atomics.compareExchange(t, PIDS + free, 0, pid) === 0) slot = free;
  }
  if (slot < 0) {
    // The window is full: take the first slot (its pid looks ended).
    slot = pid % SLOTS;
    Atomics.store(t, PIDS + slot, pid);
  }
  Atomics.store(t, PARENTS + slot, parentPid);
}

/** This process's identity. */
export function identity(): Identity {
  return self;
}

/** The state a new child needs, with the identity it will have. */
export function childTreeState(self: Identity): TreeState {
  return { table: memoryForm(tree().buffer), self };
}

/** Called once in a child, before any user code runs. */
export function adoptTreeState(state: TreeState): void {
  const t = table = new Int32Array(memoryOf(state.table));
  if (inSegment(t.buffer)) joined = keyOf(memoryForm(t.buffer) as SegmentSlice);
  self = state.self;
  if (self.pid === t[ROOT]) ownCell = -1;
  else {
    const slot = slotOf(t, self.pid);
    ownCell = slot < 0 ? ROOT : PIDS + slot;
  }
}

/**
 * Throws when this process's parent has ended it: called at the start of
 * every operation of a primitive and after every wake-up of a wait, so that
 * a child that goes on running after its end (see the top of the file)
 * changes nothing through this library.
 *
 * @throws {ProcessError} When this process was ended by its parent.
 */
export function checkRunning(): void {
  // A plain read, not Atomics.load: this runs several times in every
  // locked increment, and Atomics.load is a call into a V8 builtin there
  // (about 5 ns) where a plain read of an aligned Int32Array element is one
  // untorn load. It cannot be cached across iterations of a caller's loop:
  // every operation that checks goes on to an atomic operation, which V8
  // orders every memory access around. A parent's end that lands just
  // after the read is the same race as with an atomic read, which the
  // callers allow for (see Mutex.releaseOwn).
  if (ownCell >= 0 && table![ownCell] !== self.pid && !exempted) {
    throw new ProcessError(
      `This process was ended by its parent: ${self.name} (pid ${self.pid}) can no longer use the primitives it was given; stop its work and return`,
    );
  }
}

/**
 * {@linkcode checkRunning}, then this process's pid: the two calls that
 * begin every fast path of a lock, in one.
 *
 * @returns `identity().pid`.
 * @throws {ProcessError} When this process's parent has ended it.
 */
export function runningPid(): number {
  // checkRunning()'s test, here rather than called: a fresh child runs its
  // first thousands of acquires unoptimized, where each call costs.
  if (ownCell >= 0 && table![ownCell] !== self.pid && !exempted) {
    checkRunning();
  }
  return self.pid;
}

/** A pid for a new Worker child, unique within the tree. */
export function allocateWorkerPid(): number {
  return WORKER_PID_BASE + Atomics.add(tree(), 0, 1) + 1;
}

/** Records that `pid` (a child of this process) is running. */
export function markAlive(pid: number): void {
  mark(pid, self.pid);
}

/** Records that `pid` and every descendant of it have ended. */
export function markEnded(pid: number): void {
  const t = tree();
  const slot = slotOf(t, pid);
  if (slot < 0 || Atomics.compareExchange(t, PIDS + slot, pid, 0) !== pid) {
    return;
  }
  for (let i = 0; i < SLOTS; i++) {
    if (Atomics.load(t, PARENTS + i) === pid) {
      const child = Atomics.load(t, PIDS + i);
      if (child !== 0) markEnded(child);
    }
  }
}

/** Whether `pid` is a live process of this tree (the root always is). */
export function isAlive(pid: number): boolean {
  const t = tree();
  if (pid === t[ROOT]) return true;
  return slotOf(t, pid) >= 0 && !endedUnreaped(pid);
}

const OWN_PID = Deno.pid;
/** How long an OS process found running is taken to run on, in ms. */
const RECHECK_MS = 10;
/** When each OS process was last found running, by pid. */
const runningAt = new Map<number, number>();
/** Where `/proc/<pid>/exe` is read into. */
const exeTarget = new Uint8Array(256);
let procWorks: boolean | undefined;

/**
 * Whether the OS process `pid`, which the table says runs, has ended. The
 * table learns it from the parent when it reaps the child, which a parent
 * whose thread is blocked cannot do: were that thread waiting for a lock
 * the child held (`acquireSync()`), it would wait forever. A process that
 * ended has no executable any more (`/proc/<pid>/exe` does not resolve),
 * even while it waits to be reaped. Asked at most every RECHECK_MS for a
 * process found running (this runs in waiters' loops), and only where
 * libc can be used: only then do OS processes share primitives with this
 * one (with the proxy, the parent acts for them).
 */
function endedUnreaped(pid: number): boolean {
  if (pid >= WORKER_PID_BASE || pid === OWN_PID) return false;
  const now = performance.now();
  const seen = runningAt.get(pid);
  if (seen !== undefined && now - seen < RECHECK_MS) return false;
  const readlink = readlinkCall();
  if (readlink === null) return false;
  // Without a /proc that shows this process, nothing can be told.
  procWorks ??= linkResolves(readlink, "/proc/self/exe");
  if (procWorks && !linkResolves(readlink, `/proc/${pid}/exe`)) {
    runningAt.delete(pid);
    return true;
  }
  if (runningAt.size > 1024) runningAt.clear();
  runningAt.set(pid, now);
  return false;
}

const pathEncoder = new TextEncoder();

/** Whether the symbolic link at `path` resolves. */
function linkResolves(readlink: Readlink, path: string): boolean {
  const cPath = pathEncoder.encode(`${path}\0`);
  return readlink(cPath, exeTarget, BigInt(exeTarget.length)) >= 0;
}

/**
 * Runs `fn` with {@linkcode checkRunning} passing: how the agent of a
 * subprocess child that died gives back what a call took for it.
 *
 * @returns What `fn` returns.
 */
export function exempt<T>(fn: () => T): T {
  const was = exempted;
  exempted = true;
  try {
    return fn();
  } finally {
    exempted = was;
  }
}
