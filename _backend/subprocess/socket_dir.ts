// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The temporary directory of a process's sockets (its control socket and
// its agents'), made on first use. It goes when the process ends, whichever
// end the process can see: its event loop empties or it calls Deno.exit
// (`unload`), an uncaught error, or a signal whose default action is to end
// it (SIGHUP, SIGINT, SIGTERM), which a thread of its own watches.
//
// What a process cannot see (SIGKILL, Deno itself crashing) leaves its
// directory behind, so the same thread removes, when the next directory is
// made, those whose owner is dead: a directory is its owner's as long as
// its control socket takes a connection (a pid could be another process's
// by then, or mean nothing in this pid namespace, and Deno lets only
// --allow-all read /proc). So the control socket listens as soon as the
// directory exists, whether or not the process starts children (the
// launcher's Home answers there); the agents' sockets are never probed: an
// agent takes the end of a connection for its child's end.
import {
  countSignalListeners,
  setWorkerRef,
  signalListenersAreHarmless,
} from "../../_deno_compat.ts";
import { atChildExit } from "../exit_hooks.ts";

const PREFIX = "deno-multiprocessing-";
const CONTROL = "control.sock";
/** The prefix of a child's start module (see launcher.ts). */
const START = `${PREFIX}start-`;
/**
 * A start module this old was never read: a child reads its own as it
 * starts loading, and removes it (its parent too, when the child connects
 * or ends); one is left only when both died meanwhile.
 */
const START_TTL = 60_000;

/** The signals a process cleans up on: those whose default ends it. */
const SIGNALS: readonly Deno.Signal[] = ["SIGHUP", "SIGINT", "SIGTERM"];

const mainThread = !("WorkerGlobalScope" in globalThis);
// Counted from the library's import on, so before the program adds any: a
// program that listens for a signal handles it itself.
const programListeners = mainThread ? countSignalListeners(SIGNALS) : undefined;

/** What the janitor is told when it starts. */
interface JanitorTask {
  /** This thread's directory. */
  path: string;
  /** The directory that holds it, and those of dead processes. */
  tmp: string;
  /** The prefix of every socket directory's name. */
  prefix: string;
  /** The name of the control socket in each. */
  control: string;
  /** The prefix of the start modules of children, beside the folders. */
  start: string;
  /** How old a start module is when it was left behind. */
  startTtl: number;
  /** Whether to sweep: this process may read, write and connect there. */
  sweep: boolean;
  /** The signals to watch, if any. */
  signals: readonly Deno.Signal[];
  /** The program's own listeners of each signal (countSignalListeners). */
  listeners?: Int32Array;
}

// The janitor's code, in a Blob so that a process without read permission
// can start it. On a watched signal it removes this process's directory,
// then raises the signal again with its own listener gone: Deno ends a
// process on a signal that no listener is for, so the process dies of it,
// with the exit status it would have had without the library. A signal that
// the program listens for itself is the program's: the janitor does
// nothing, and `unload` cleans up if the program then exits. It sweeps the
// other directories once, then says so.
function janitor(): void {
  // This function runs as a Worker's whole module.
  const scope = self as unknown as {
    onmessage: ((event: MessageEvent) => void) | null;
    postMessage(message: unknown): void;
    close(): void;
  };
  const remove = (path: string) => {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch {
      // gone already, or not ours to remove
    }
  };
  const watch = (task: JanitorTask) => {
    task.signals.forEach((signal, index) => {
      const onSignal = () => {
        if (task.listeners && Atomics.load(task.listeners, index) > 0) return;
        remove(task.path);
        Deno.removeSignalListener(signal, onSignal);
        Deno.kill(Deno.pid, signal);
      };
      Deno.addSignalListener(signal, onSignal);
    });
  };
  /**
   * Whether `dir`'s owner is dead: its control socket refuses connections,
   * or it never had one and nothing else for a minute (undefined: one
   * cannot say, as for a directory in the making).
   */
  const abandoned = async (
    dir: string,
    task: JanitorTask,
  ): Promise<boolean | undefined> => {
    try {
      const path = `${dir}/${task.control}`;
      (await Deno.connect({ transport: "unix", path })).close();
      return false;
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) return true;
      if (!(error instanceof Deno.errors.NotFound)) return undefined;
    }
    for await (const _ of Deno.readDir(dir)) return undefined;
    const made = (await Deno.stat(dir)).mtime?.getTime() ?? Date.now();
    return Date.now() - made > 60_000 ? true : undefined;
  };
  const sweep = async (task: JanitorTask) => {
    const dead: string[] = [];
    for await (const entry of Deno.readDir(task.tmp)) {
      const dir = `${task.tmp}/${entry.name}`;
      if (entry.isFile && entry.name.startsWith(task.start)) {
        const made = (await Deno.stat(dir).catch(() => null))?.mtime;
        if (made && Date.now() - made.getTime() > task.startTtl) remove(dir);
        continue;
      }
      if (!entry.isDirectory || !entry.name.startsWith(task.prefix)) continue;
      if (dir !== task.path && await abandoned(dir, task).catch(() => false)) {
        dead.push(dir);
      }
    }
    if (!dead.length) return;
    // A socket is bound an instant before it listens: look again.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const dir of dead) {
      if (await abandoned(dir, task).catch(() => false)) remove(dir);
    }
  };
  scope.onmessage = async (event) => {
    const task = event.data as JanitorTask;
    watch(task);
    if (task.sweep) await sweep(task).catch(() => {});
    scope.postMessage("swept");
    if (!task.signals.length) scope.close();
  };
}

let dir: string | undefined;
let controlListener: Deno.Listener | undefined;
let onControl: ((conn: Deno.Conn) => void) | undefined;

/**
 * The temporary directory of this thread's sockets, made on first use and
 * removed when this process (or this Worker child) ends.
 */
export function socketDir(): string {
  if (dir) return dir;
  const made = dir = Deno.makeTempDirSync({ prefix: `${PREFIX}${Deno.pid}-` });
  // This user's only, whatever the umask: the start modules of children
  // are in it (Deno makes it so already; this says it).
  Deno.chmodSync(made, 0o700);
  removeAtEnd(made);
  try {
    listenForControl();
  } catch {
    // Without it, this directory is left to its owner alone (and children,
    // which need it, cannot start: controlSocket throws why).
  }
  // Signals are the process's, and one sweep per process is enough: a
  // Worker child leaves both to the main thread (its directory, if a signal
  // ends the process, to the next sweep).
  if (mainThread) startJanitor(made);
  return made;
}

/**
 * The path of this thread's control socket, whose connections now go to
 * `handle` (until then they are closed).
 *
 * @param handle Takes each connection.
 * @returns The socket's path.
 */
export function controlSocket(handle: (conn: Deno.Conn) => void): string {
  socketDir();
  if (!controlListener) listenForControl();
  onControl = handle;
  return controlPath();
}

/**
 * A new path for a child's start module: in the temporary directory beside
 * this thread's socket folder (whose path it does not show), removed by the
 * next sweep if nobody removed it.
 */
export function startModulePath(name: string): string {
  const tmp = socketDir().slice(0, socketDir().lastIndexOf("/"));
  return `${tmp}/${START}${name}.js`;
}

function controlPath(): string {
  return `${dir}/${CONTROL}`;
}

/** @throws What Deno.listen throws (no permission, say). */
function listenForControl(): void {
  const listener = controlListener = Deno.listen({
    transport: "unix",
    path: controlPath(),
  });
  listener.unref();
  (async () => {
    try {
      for await (const conn of listener) {
        if (onControl) onControl(conn);
        else conn.close();
      }
    } catch {
      // The listener closed: this process is ending.
    }
  })();
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
}

/**
 * Starts the thread that sweeps the directories of dead processes and
 * removes `path` on a fatal signal, even while this thread is blocked in a
 * *Sync call or busy in user code. It keeps this process alive until it has
 * swept, so that a short program sweeps too.
 */
function startJanitor(path: string): void {
  const tmp = path.slice(0, path.lastIndexOf("/"));
  const task: JanitorTask = {
    path,
    tmp,
    prefix: PREFIX,
    start: START,
    startTtl: START_TTL,
    control: CONTROL,
    sweep: granted({ name: "read", path: tmp }) &&
      granted({ name: "write", path: tmp }) && granted({ name: "net" }),
    signals: signalListenersAreHarmless() ? SIGNALS : [],
    listeners: programListeners,
  };
  if (!task.sweep && !task.signals.length) return;
  const url = URL.createObjectURL(
    new Blob([`(${janitor})()`], { type: "text/javascript" }),
  );
  const worker = new Worker(url, {
    type: "module",
    name: "multiprocessing janitor",
  });
  // A janitor that fails leaves the signals to Deno, as without it.
  worker.onerror = (event) => event.preventDefault();
  worker.onmessage = () => setWorkerRef(worker, false);
  worker.postMessage(task);
}

/** Whether this process holds `descriptor`, without ever prompting. */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}
