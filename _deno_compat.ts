// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Every place where this library leans on something Deno does not offer as
// public API, or works around how Deno behaves, is here, so that a Deno
// release that changes one of them is met in one file. This module imports
// nothing: a child's entry loads it, and every module costs its start-up.

/**
 * Sets whether `worker` keeps this process alive. Deno's `Worker` always
 * does and has no public `unref()`; its prototype carries an internal
 * ref-count method (the one Node's `worker_threads` compatibility uses),
 * found as its only function-valued symbol without a description. Where a
 * Deno release has none, this does nothing: the Worker then keeps its
 * parent running, which is slower to end but never wrong.
 *
 * @param worker The Worker.
 * @param on Whether it keeps this process alive.
 */
export function setWorkerRef(worker: Worker, on: boolean): void {
  const proto = Object.getPrototypeOf(worker);
  const ref = Object.getOwnPropertySymbols(proto).find((symbol) =>
    symbol.description === undefined && typeof proto[symbol] === "function"
  );
  if (ref) {
    (worker as unknown as Record<symbol, (on: boolean) => void>)[ref](on);
  }
}

/**
 * Calls `onEnd` with the exit code before this Worker ends by `Deno.exit()`
 * or `self.close()`: Deno tells a Worker's parent nothing when a Worker
 * ends, so a Worker child reports its own end, and these are the two ways
 * it can end without returning to our entry. Call it once, in the Worker.
 *
 * @param onEnd Reports the end (it must not throw).
 * @returns Deno's own `self.close`, which ends the Worker without `onEnd`.
 */
export function beforeWorkerEnds(
  onEnd: (exitCode: number) => void,
): () => void {
  const scope = globalThis as unknown as { close(): void };
  const closeWorker = scope.close.bind(scope);
  const exitDeno = Deno.exit;
  Deno.exit = (code?: number): never => {
    onEnd(code ?? Deno.exitCode);
    return exitDeno(code);
  };
  scope.close = () => {
    onEnd(0);
    closeWorker();
  };
  return closeWorker;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/**
 * A child process's exit code, as Python gives it: `-signal` for a child
 * that a signal ended, else its code. Deno names the signal but gives no
 * number for it, and reports the code of a signalled child as `128 +
 * signal`, as shells do.
 *
 * @param status The child's status.
 * @returns Its code, or `-signal`.
 */
export function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal === null) return status.code;
  const number = status.code > 128 ? status.code - 128 : SIGNALS[status.signal];
  return -(number ?? 1);
}

let signalCounts: Int32Array | undefined;

/**
 * Starts counting, in shared memory that a Worker can read, the listeners
 * that this thread's code adds for each of `signals` through
 * `Deno.addSignalListener` (`node:process`'s signal events go through it
 * too): Deno keeps its own list private, and a listener anywhere in the
 * process stops a signal's default action. Listeners added before the first
 * call, or by another thread, are not counted. Later calls return the
 * counts of the first.
 *
 * @param signals The signals to count.
 * @returns The number of listeners of `signals[i]` at index `i`.
 */
export function countSignalListeners(
  signals: readonly Deno.Signal[],
): Int32Array {
  if (signalCounts) return signalCounts;
  const counts = new Int32Array(new SharedArrayBuffer(4 * signals.length));
  // As Deno does, a listener added twice is one listener.
  const listeners = signals.map(() => new Set<() => void>());
  const track = (signal: Deno.Signal, listener: () => void, on: boolean) => {
    const i = signals.indexOf(signal);
    if (i < 0) return;
    if (on) listeners[i].add(listener);
    else listeners[i].delete(listener);
    Atomics.store(counts, i, listeners[i].size);
  };
  const add = Deno.addSignalListener;
  const remove = Deno.removeSignalListener;
  Deno.addSignalListener = (signal, listener) => {
    add(signal, listener);
    track(signal, listener, true);
  };
  Deno.removeSignalListener = (signal, listener) => {
    remove(signal, listener);
    track(signal, listener, false);
  };
  return signalCounts = counts;
}

/**
 * Whether listening for a signal leaves how this process meets signals as
 * it was. At its first signal listener, whatever the signal, Deno takes
 * over SIGHUP, SIGINT and SIGTERM, and ends the process on each while no
 * listener is for it: so a process that ignored one of them (a background
 * job's SIGINT, nohup's SIGHUP) would die of it. Reads /proc/self/status,
 * which Deno lets a process read only when it holds every permission in
 * full (Linux); false when it cannot tell.
 *
 * @returns Whether none of SIGHUP, SIGINT and SIGTERM is ignored.
 */
export function signalListenersAreHarmless(): boolean {
  const kinds = ["read", "write", "net", "env", "sys", "run", "ffi", "import"];
  try {
    for (const name of kinds) {
      const descriptor = { name } as Deno.PermissionDescriptor;
      if (Deno.permissions.querySync(descriptor).state !== "granted") {
        return false;
      }
    }
    const status = Deno.readTextFileSync("/proc/self/status");
    const mask = status.match(/^SigIgn:\s*(\w+)$/m);
    // Bits 0, 1 and 14: signals 1, 2 and 15.
    return mask !== null && (BigInt(`0x${mask[1]}`) & 0x4003n) === 0n;
  } catch {
    return false;
  }
}

let loopHolds = 0;
let loopTimer: ReturnType<typeof setInterval> | undefined;

/**
 * Keeps this process running until the returned handle is disposed. A
 * pending promise does not keep Deno's event loop alive, nor does an
 * `Atomics.waitAsync` or a daemon child's Worker or subprocess; a wait the
 * program awaits holds the loop through this, one ref'd timer for every
 * hold (ref'd and unref'd, not remade, since a wait may start often).
 *
 * @returns A handle whose disposal ends this hold.
 */
export function holdEventLoop(): Disposable {
  if (loopHolds++ === 0) {
    // The largest delay a timer takes; it never fires in practice.
    loopTimer ??= setInterval(() => {}, 2 ** 31 - 1);
    Deno.refTimer(loopTimer!);
  }
  return {
    [Symbol.dispose]() {
      if (--loopHolds === 0) Deno.unrefTimer(loopTimer!);
    },
  };
}

/**
 * Lets the process end while `timer` (from `setTimeout` or `setInterval`)
 * is pending. Deno 2.9's timers are objects, which `Deno.unrefTimer` takes
 * as they are; given `Number(timer)`, it left the timer holding the event
 * loop. Typed loosely: with Node's types loaded the timer is a `Timeout`.
 */
export function unrefTimer(timer: unknown): void {
  Deno.unrefTimer(timer as number);
}
