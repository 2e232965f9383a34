// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The temporary directory of a process's sockets (its control socket and
// its agents'), made on first use. It goes when the process ends, whichever
// end the process can see: its event loop empties or it calls Deno.exit
// (`unload`), an uncaught error, or a signal whose default action is to end
// it (SIGHUP, SIGINT, SIGTERM), which a thread of its own watches.
//
// The same thread removes, on such a signal, the names this process gave
// shared memory in /dev/shm (shared_memory.ts), which its `unload` removes
// otherwise.
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

/** What the janitor is told first, once. */
interface JanitorStart {
  /** The signals to watch, if any. */
  signals: readonly Deno.Signal[];
  /** The program's own listeners of each signal (countSignalListeners). */
  listeners?: Int32Array;
  /**
   * The symbolic links to remove on a signal, each with the target it must
   * still have (someone may have taken its name since), as JSON that this
   * thread rewrites in place: a sequence number (odd while it writes), the
   * length in bytes, then the bytes (see {@linkcode unlinkOnSignal}).
   */
  links: SharedArrayBuffer;
  /** Set to 1 (and notified) once the janitor watches the signals. */
  watching: Int32Array;
}

/** What the janitor is told when this thread's directory is made. */
interface JanitorSweep {
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
}

type JanitorMessage = { start: JanitorStart } | { sweep: JanitorSweep };

// The janitor's code, in a Blob so that a process without read permission
// can start it. On a watched signal it removes this process's directory
// and links, then raises the signal again with its own listener gone: Deno
// ends a process on a signal that no listener is for, so the process dies
// of it, with the exit status it would have had without the library. A
// signal that the program listens for itself is the program's: the janitor
// does nothing, and `unload` cleans up if the program then exits. It sweeps
// the other directories once, then says so.
function janitor(): void {
  // This function runs as a Worker's whole module.
  const scope = self as unknown as {
    onmessage: ((event: MessageEvent) => void) | null;
    postMessage(message: unknown): void;
    close(): void;
  };
  const dirs: string[] = [];
  const cString = (text: string) => new TextEncoder().encode(`${text}\0`);
  const remove = (path: string) => {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch {
      // gone already, or not ours to remove
    }
  };
  /** The links on the board, read whole (it may be being written). */
  const readLinks = (board: SharedArrayBuffer): [string, string][] => {
    const header = new Int32Array(board, 0, 2);
    for (let attempt = 0; attempt < 1000; attempt++) {
      const before = Atomics.load(header, 0);
      if (before % 2 === 1) continue;
      const bytes = new Uint8Array(board, 8, Atomics.load(header, 1)).slice();
      if (Atomics.load(header, 0) !== before) continue;
      return bytes.length ? JSON.parse(new TextDecoder().decode(bytes)) : [];
    }
    return [];
  };
  // Links are removed through libc, as shared_memory.ts makes them: a
  // process that has them was granted FFI, not necessarily read or write.
  const unlinkLinks = (board: SharedArrayBuffer) => {
    const links = readLinks(board);
    if (!links.length) return;
    const libc = Deno.dlopen("libc.so.6", {
      readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
      unlink: { parameters: ["buffer"], result: "i32" },
    }).symbols;
    for (const [link, target] of links) {
      const buffer = new Uint8Array(4096);
      const length = Number(
        libc.readlink(cString(link), buffer, BigInt(buffer.length)),
      );
      const now = new TextDecoder().decode(buffer.subarray(0, length));
      if (length > 0 && now === target) libc.unlink(cString(link));
    }
  };
  const watch = (task: JanitorStart) => {
    task.signals.forEach((signal, index) => {
      const onSignal = () => {
        if (task.listeners && Atomics.load(task.listeners, index) > 0) return;
        dirs.forEach(remove);
        try {
          unlinkLinks(task.links);
        } catch {
          // No FFI: the links dangle, and shared_memory.ts sweeps them.
        }
        Deno.removeSignalListener(signal, onSignal);
        Deno.kill(Deno.pid, signal);
      };
      Deno.addSignalListener(signal, onSignal);
    });
    Atomics.store(task.watching, 0, 1);
    Atomics.notify(task.watching, 0);
  };
  /**
   * Whether `dir`'s owner is dead: its control socket refuses connections,
   * or it never had one and nothing else for a minute (undefined: one
   * cannot say, as for a directory in the making).
   */
  const abandoned = async (
    dir: string,
    task: JanitorSweep,
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
  const sweep = async (task: JanitorSweep) => {
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
  let watching = false;
  scope.onmessage = async (event) => {
    const message = event.data as JanitorMessage;
    if ("start" in message) {
      watch(message.start);
      watching = message.start.signals.length > 0;
    } else {
      dirs.push(message.sweep.path);
      if (message.sweep.sweep) await sweep(message.sweep).catch(() => {});
      scope.postMessage("swept");
      if (!watching) scope.close();
    }
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

let janitorThread: Worker | undefined;
let watchedSignals: readonly Deno.Signal[] | undefined;
/** The janitor's links (see JanitorStart.links), made with it. */
let linkBoard: SharedArrayBuffer | undefined;
/** Its size: 1 MiB of JSON (the pages are the kernel's to give on use). */
const LINK_BOARD_BYTES = 1 << 20;
/** 1 once the janitor watches the signals. */
const janitorWatching = new Int32Array(new SharedArrayBuffer(4));
/** How long to wait for the janitor to start, at the first link. */
const JANITOR_PATIENCE = 5_000;
/** Whether the janitor once took longer: it is not waited for again. */
let janitorLate = false;

/** The signals the janitor watches: none where listening would change them. */
function signalsToWatch(): readonly Deno.Signal[] {
  return watchedSignals ??= mainThread && signalListenersAreHarmless()
    ? SIGNALS
    : [];
}

/** The janitor, started on first use (not holding this process alive). */
function janitorWorker(): Worker {
  if (janitorThread) return janitorThread;
  const url = URL.createObjectURL(
    new Blob([`(${janitor})()`], { type: "text/javascript" }),
  );
  const worker = janitorThread = new Worker(url, {
    type: "module",
    name: "multiprocessing janitor",
  });
  // A janitor that fails leaves the signals to Deno, as without it.
  worker.onerror = (event) => event.preventDefault();
  worker.onmessage = () => setWorkerRef(worker, false);
  setWorkerRef(worker, false);
  const start: JanitorStart = {
    signals: signalsToWatch(),
    listeners: programListeners,
    links: linkBoard = new SharedArrayBuffer(LINK_BOARD_BYTES),
    watching: janitorWatching,
  };
  worker.postMessage({ start } satisfies JanitorMessage);
  return worker;
}

/**
 * Starts the thread that sweeps the directories of dead processes and
 * removes `path` on a fatal signal, even while this thread is blocked in a
 * *Sync call or busy in user code. It keeps this process alive until it has
 * swept, so that a short program sweeps too.
 */
function startJanitor(path: string): void {
  const tmp = path.slice(0, path.lastIndexOf("/"));
  const sweep: JanitorSweep = {
    path,
    tmp,
    prefix: PREFIX,
    start: START,
    startTtl: START_TTL,
    control: CONTROL,
    sweep: granted({ name: "read", path: tmp }) &&
      granted({ name: "write", path: tmp }) && granted({ name: "net" }),
  };
  if (!sweep.sweep && !signalsToWatch().length) return;
  const worker = janitorWorker();
  setWorkerRef(worker, true);
  worker.postMessage({ sweep } satisfies JanitorMessage);
}

const links = new Map<string, string>();

/**
 * Has the symbolic link `link` removed if a signal ends this process (see
 * the top of this module) while it still points at `target`; with no
 * `target`, no longer. Other ends are the caller's to handle (`unload`).
 * Only the main thread's links are: a Worker leaves signals to it.
 *
 * @param link The link's path.
 * @param target What it points at, or `undefined` to forget it.
 */
export function unlinkOnSignal(link: string, target?: string): void {
  if (target === undefined) {
    if (!links.delete(link)) return;
  } else links.set(link, target);
  if (!signalsToWatch().length) return;
  janitorWorker();
  writeLinks(linkBoard!);
  // Until the janitor watches, wait for it: a Worker takes a while to
  // start, and a signal may come at once (a short program).
  const deadline = Date.now() + JANITOR_PATIENCE;
  while (!janitorLate && Atomics.load(janitorWatching, 0) === 0) {
    const left = deadline - Date.now();
    if (left <= 0) janitorLate = true;
    else Atomics.wait(janitorWatching, 0, 0, left);
  }
}

/** Writes the links on the janitor's board (links beyond 1 MiB dangle). */
function writeLinks(board: SharedArrayBuffer): void {
  let bytes = new TextEncoder().encode(JSON.stringify([...links]));
  let kept = links.size;
  while (bytes.length > board.byteLength - 8) {
    kept = Math.floor(kept / 2);
    bytes = new TextEncoder().encode(
      JSON.stringify([...links].slice(0, kept)),
    );
  }
  const header = new Int32Array(board, 0, 2);
  Atomics.add(header, 0, 1);
  new Uint8Array(board, 8, bytes.length).set(bytes);
  Atomics.store(header, 1, bytes.length);
  Atomics.add(header, 0, 1);
}

/** Whether this process holds `descriptor`, without ever prompting. */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}
