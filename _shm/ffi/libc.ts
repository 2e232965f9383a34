// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The one binding of this library to native code: the few libc functions
// that share memory between OS processes (memfd_create, ftruncate, mmap)
// and block on it (the futex system call). Opened on first use, and only
// where it can work: Linux on x86_64 or aarch64, with FFI granted. Every
// other module asks `libc()`, which says why not when it cannot.
//
// `--allow-ffi` amounts to allowing native code, so it stays the user's
// choice: this module never asks for it (no prompt), it only looks whether
// it was granted.

/** The system call number of futex on the architectures this supports. */
const SYS_FUTEX: Partial<Record<typeof Deno.build.arch, number>> = {
  x86_64: 202,
  aarch64: 98,
};

const FUTEX_CALL = {
  name: "syscall",
  // syscall(SYS_futex, uaddr, op, val, timeout, uaddr2, val3)
  parameters: ["i64", "pointer", "i32", "i32", "buffer", "pointer", "i32"],
  result: "i64",
} as const;

const SYMBOLS = {
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  mmap: {
    parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"],
    result: "pointer",
  },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  symlink: { parameters: ["buffer", "buffer"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

// The futex call is bound apart from the rest, each flavour by itself on
// first use (see futexCall): binding costs about 0.2 ms of CPU a function,
// and a Worker child whose only native call is a wait on a contended lock
// would otherwise pay for all of them in its first contended acquire.
// Blocks the calling thread: the sync waits, and wakes (which never block).
const FUTEX_SYNC = { ...FUTEX_CALL, nonblocking: false } as const;
// Runs on a thread of Deno's pool: the async waits, after spinning.
const FUTEX_ASYNC = { ...FUTEX_CALL, nonblocking: true } as const;

// Each bound by itself on first use too (see optionalCall): only a process
// that moves large messages asks for madvise (see adviseHugePages in
// memory.ts), and a thread that only asks whether a process ended for
// readlink.
const MADVISE = {
  parameters: ["pointer", "usize", "i32"],
  result: "i32",
} as const;
const READLINK = {
  parameters: ["buffer", "buffer", "usize"],
  result: "isize",
} as const;

/** The futex system call, blocking the calling thread. */
export type FutexSync = Deno.DynamicLibrary<
  { futex: typeof FUTEX_SYNC }
>["symbols"]["futex"];

/** The futex system call on a thread of Deno's pool. */
export type FutexAsync = Deno.DynamicLibrary<
  { futex: typeof FUTEX_ASYNC }
>["symbols"]["futex"];

/** The futex system call's number here, its first argument. */
export const SYS_FUTEX_NUMBER: bigint = BigInt(
  SYS_FUTEX[Deno.build.arch] ?? -1,
);

/** The bound functions. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** What {@linkcode libc} gives: the functions, or why there are none. */
export type LibcResult =
  | { ok: true; symbols: Libc }
  | { ok: false; reason: string };

let result: LibcResult | undefined;

/**
 * The libc functions this library uses, opened once; or why they cannot be
 * (not Linux, another architecture, FFI not granted, no libc).
 */
export function libc(): LibcResult {
  return result ??= open();
}

let futexSync: FutexSync | undefined;
let futexAsync: FutexAsync | undefined;

/**
 * The futex system call in the flavour asked for, bound on first use.
 *
 * @throws {Error} Where libc cannot be used, saying why.
 */
export function futexCall(nonblocking: false): FutexSync;
export function futexCall(nonblocking: true): FutexAsync;
export function futexCall(nonblocking: boolean): FutexSync | FutexAsync {
  if (!nonblocking) return futexSync ??= bind({ futex: FUTEX_SYNC }).futex;
  if (futexAsync !== undefined) return futexAsync;
  if (futexSync !== undefined) {
    return futexAsync = bind({ futex: FUTEX_ASYNC }).futex;
  }
  // The first async wait binds the blocking flavour too: it is about to
  // sleep anyway, and a process that waits async often blocks later (a
  // child that met the others at a barrier, then contends for a lock),
  // which then finds the call bound.
  const both = bind({ futex: FUTEX_SYNC, futexAsync: FUTEX_ASYNC });
  futexSync = both.futex;
  return futexAsync = both.futexAsync;
}

/** `madvise(2)`. */
export type Madvise = Deno.DynamicLibrary<
  { madvise: typeof MADVISE }
>["symbols"]["madvise"];

/** `readlink(2)`. */
export type Readlink = Deno.DynamicLibrary<
  { readlink: typeof READLINK }
>["symbols"]["readlink"];

/**
 * A getter of one libc function, bound by itself on first use; it gives
 * `null` where libc cannot be used (no FFI granted, another system), so
 * that a caller does without.
 */
function optionalCall<N extends string, F extends Deno.ForeignFunction>(
  name: N,
  definition: F,
): () => Deno.DynamicLibrary<Record<N, F>>["symbols"][N] | null {
  let bound: Deno.DynamicLibrary<Record<N, F>>["symbols"][N] | null | undefined;
  return () => {
    if (bound !== undefined) return bound;
    const symbols = dlopenLibc({ [name]: definition } as Record<N, F>);
    return bound = typeof symbols === "string" ? null : symbols[name];
  };
}

/** `madvise(2)`, bound on first use; `null` where libc cannot be used. */
export const madviseCall: () => Madvise | null = optionalCall(
  "madvise",
  MADVISE,
);

/** `readlink(2)`, bound on first use; `null` where libc cannot be used. */
export const readlinkCall: () => Readlink | null = optionalCall(
  "readlink",
  READLINK,
);

function bind<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  const bound = dlopenLibc(symbols);
  if (typeof bound === "string") {
    throw new Error(`Cannot wait on shared memory: ${bound}`);
  }
  return bound;
}

function open(): LibcResult {
  const symbols = dlopenLibc(SYMBOLS);
  return typeof symbols === "string"
    ? { ok: false, reason: symbols }
    : { ok: true, symbols };
}

/**
 * libc bound with `symbols`, or why it cannot be (not Linux, another
 * architecture, FFI not granted, no libc).
 */
function dlopenLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | string {
  if (Deno.build.os !== "linux" || SYS_FUTEX[Deno.build.arch] === undefined) {
    return `shared memory between processes needs Linux on x86_64 or aarch64, not ${Deno.build.os} on ${Deno.build.arch}`;
  }
  let state: Deno.PermissionState;
  try {
    state = Deno.permissions.querySync({ name: "ffi" }).state;
  } catch {
    state = "denied";
  }
  if (state !== "granted") {
    return "shared memory between processes needs FFI, which this process was not granted: run it with --allow-ffi";
  }
  try {
    return Deno.dlopen("libc.so.6", symbols).symbols;
  } catch (error) {
    return `cannot open libc.so.6 for shared memory: ${
      (error as Error).message
    }`;
  }
}

/** This thread's errno cell, once found: this module is the thread's own. */
let errnoCell: Deno.UnsafePointerView | undefined;

/**
 * The current thread's errno (valid right after a call that failed), for
 * any binding of libc that has `__errno_location`.
 */
export function errno(
  lib: { __errno_location(): Deno.PointerValue },
): number {
  if (errnoCell === undefined) {
    const cell = lib.__errno_location();
    if (!cell) return 0;
    errnoCell = new Deno.UnsafePointerView(cell);
  }
  return errnoCell.getInt32();
}

// mallopt(3), for the malloc tuning that moving large messages asks for
// (see keepFreedMemory in memory.ts): bound by itself on first use.
const MALLOPT = { parameters: ["i32", "i32"], result: "i32" } as const;

/** `mallopt(3)` of glibc. */
export type Mallopt = Deno.DynamicLibrary<
  { mallopt: typeof MALLOPT }
>["symbols"]["mallopt"];

/** `mallopt(3)`, bound on first use; `null` where libc cannot be used. */
export const malloptCall: () => Mallopt | null = optionalCall(
  "mallopt",
  MALLOPT,
);

// ------------------------------------------------------------ sockets
// The socket calls of connection.ts's FFI transport (see _net/socket.ts),
// bound together on first use by a process that opens such a socket.

const SOCKET_SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  accept4: {
    parameters: ["i32", "pointer", "pointer", "i32"],
    result: "i32",
  },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
  // A wait that may last: on a thread of Deno's pool, not this one.
  pollAsync: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const;

/** The socket calls of libc. */
export type SocketCalls = Deno.DynamicLibrary<typeof SOCKET_SYMBOLS>["symbols"];

let socketSymbols: SocketCalls | null | undefined;

/**
 * The socket calls, bound on first use; `null` where libc cannot be used
 * (no FFI granted, another system), so that a caller uses Deno's sockets.
 */
export function socketCalls(): SocketCalls | null {
  if (socketSymbols !== undefined) return socketSymbols;
  const symbols = dlopenLibc(SOCKET_SYMBOLS);
  return socketSymbols = typeof symbols === "string" ? null : symbols;
}
