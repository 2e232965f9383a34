// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The temporary directory of a process's sockets (its control socket and
// its agents'), made on first use. It goes when the process ends, whichever
// end the process can see: its event loop empties or it calls Deno.exit
// (`unload`), an uncaught error, or a signal whose default action is to end
// it (SIGHUP, SIGINT, SIGTERM: a watcher thread, see `signalWatcher`).
// What a process cannot see (SIGKILL, Deno itself crashing) leaves its
// directory behind, so the next process to make one removes those whose
// owner is dead: each holds an `owner` file that names its process.
//
// Linux only, for what needs /proc (the owner's identity, which signals the
// process ignores), and only with read permission for it: a process that
// cannot tell leaves the signals and other processes' directories alone.
import {
  countSignalListeners,
  setWorkerRef,
  signalListenersAreHarmless,
} from "../../_deno_compat.ts";
import { atChildExit } from "../exit_hooks.ts";

const PREFIX = "deno-multiprocessing-";
const NAME = new RegExp(`^${PREFIX}\\d+-`);

/** The signals a process cleans up on: those whose default ends it. */
const SIGNALS: readonly Deno.Signal[] = ["SIGHUP", "SIGINT", "SIGTERM"];

const mainThread = !("WorkerGlobalScope" in globalThis);
// Counted from the library's import on, so before the program adds any: a
// program that listens for a signal handles it itself.
const programListeners = mainThread ? countSignalListeners(SIGNALS) : undefined;

// The watcher's code, in a Blob so that a process without read permission
// can start it. On a watched signal it removes the directory, then raises
// the signal again with its own listener gone: Deno ends a process on a
// signal that no listener is for, so the process dies of it, with the exit
// status it would have had without the library. A signal that the program
// listens for itself is the program's: the watcher does nothing, and
// `unload` cleans up if the program then exits.
function signalWatcher(): void {
  // This function runs as a Worker's whole module.
  const scope = self as unknown as {
    onmessage: ((event: MessageEvent) => void) | null;
  };
  scope.onmessage = (event) => {
    const { path, signals, listeners } = event.data as {
      path: string;
      signals: Deno.Signal[];
      listeners: Int32Array;
    };
    signals.forEach((signal, index) => {
      const onSignal = () => {
        if (Atomics.load(listeners, index) > 0) return;
        try {
          Deno.removeSync(path, { recursive: true });
        } catch {
          // gone already
        }
        Deno.removeSignalListener(signal, onSignal);
        Deno.kill(Deno.pid, signal);
      };
      Deno.addSignalListener(signal, onSignal);
    });
  };
}

let dir: string | undefined;

/**
 * The temporary directory of this thread's sockets, made on first use and
 * removed when this process (or this Worker child) ends.
 */
export function socketDir(): string {
  if (dir) return dir;
  const made = dir = Deno.makeTempDirSync({ prefix: `${PREFIX}${Deno.pid}-` });
  removeAtEnd(made);
  const owner = identify(Deno.pid);
  if (owner) {
    try {
      Deno.writeTextFileSync(`${made}/owner`, owner.join(" "));
    } catch {
      // Without it, this directory is left to its owner alone.
    }
    sweep(made.slice(0, made.lastIndexOf("/")), owner);
  }
  return made;
}

/** Removes `path` at every end of this thread that it can see. */
function removeAtEnd(path: string): void {
  const remove = () => {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch {
      // gone already
    }
  };
  globalThis.addEventListener("unload", remove);
  // An uncaught error ends the process without `unload`; one that an
  // earlier listener handled (called preventDefault) does not end it.
  const uncaught = (event: Event) => {
    if (!event.defaultPrevented) remove();
  };
  globalThis.addEventListener("error", uncaught);
  globalThis.addEventListener("unhandledrejection", uncaught);
  // A Worker child that calls Deno.exit ends without `unload`.
  atChildExit(remove);
  // Signals are the process's: a Worker leaves them to the main thread,
  // and its directory to the next start.
  if (mainThread) watchSignals(path);
}

/**
 * Starts the thread that removes `path` on a fatal signal, so that it does
 * even while this thread is blocked in a *Sync call or busy in user code.
 */
function watchSignals(path: string): void {
  if (!signalListenersAreHarmless()) return;
  const url = URL.createObjectURL(
    new Blob([`(${signalWatcher})()`], { type: "text/javascript" }),
  );
  const watcher = new Worker(url, {
    type: "module",
    name: "multiprocessing signal watcher",
  });
  setWorkerRef(watcher, false);
  // A watcher that fails leaves the signals to Deno, as without it.
  watcher.onerror = (event) => event.preventDefault();
  watcher.postMessage({ path, signals: SIGNALS, listeners: programListeners });
}

/**
 * What names a process for as long as it lives, and no other afterwards:
 * its pid, its start time (so a reused pid is told apart), and its pid
 * namespace (where that pid means something). Undefined when unknown.
 */
function identify(pid: number): string[] | undefined {
  if (!readable("/proc")) return undefined;
  try {
    const start = startOf(pid);
    const space = Deno.readLinkSync("/proc/self/ns/pid");
    return start === undefined ? undefined : [String(pid), start, space];
  } catch {
    return undefined;
  }
}

/**
 * The start time of the live process `pid` (in clock ticks since boot), or
 * undefined when there is none (a zombie has ended too).
 *
 * @throws When /proc cannot tell.
 */
function startOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  // The fields after the command name, from the third: state, ppid, ...;
  // the start time is the 22nd.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[0] === "Z" ? undefined : fields[19];
}

/**
 * Removes the socket directories in `tmp` whose owner is dead. One whose
 * owner cannot be told (no owner file yet, another pid namespace, /proc
 * refuses) is left alone.
 */
function sweep(tmp: string, self: string[]): void {
  if (!readable(tmp) || !writable(tmp)) return;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(tmp)];
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !NAME.test(entry.name)) continue;
    const path = `${tmp}/${entry.name}`;
    try {
      const [pid, start, space] = Deno.readTextFileSync(`${path}/owner`)
        .split(" ");
      if (space !== self[2] || !/^\d+$/.test(pid)) continue;
      if (startOf(Number(pid)) === start) continue;
      Deno.removeSync(path, { recursive: true });
    } catch {
      // Not ours to tell, or removed meanwhile by another process.
    }
  }
}

function readable(path: string): boolean {
  return granted({ name: "read", path });
}

function writable(path: string): boolean {
  return granted({ name: "write", path });
}

/** Whether this process holds `descriptor`, without ever prompting. */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}
