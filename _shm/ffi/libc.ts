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
  // Blocks the calling thread: the sync waits, and wakes (which never block).
  futex: { ...FUTEX_CALL, nonblocking: false },
  // Runs on a thread of Deno's pool: the async waits, after spinning.
  futexAsync: { ...FUTEX_CALL, nonblocking: true },
} as const;

/** The bound functions. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** What {@linkcode libc} gives: the functions, or why there are none. */
export type LibcResult =
  | { ok: true; symbols: Libc; sysFutex: number }
  | { ok: false; reason: string };

let result: LibcResult | undefined;

/**
 * The libc functions this library uses, opened once; or why they cannot be
 * (not Linux, another architecture, FFI not granted, no libc).
 */
export function libc(): LibcResult {
  return result ??= open();
}

function open(): LibcResult {
  const sysFutex = SYS_FUTEX[Deno.build.arch];
  if (Deno.build.os !== "linux" || sysFutex === undefined) {
    return {
      ok: false,
      reason:
        `shared memory between processes needs Linux on x86_64 or aarch64, not ${Deno.build.os} on ${Deno.build.arch}`,
    };
  }
  let state: Deno.PermissionState;
  try {
    state = Deno.permissions.querySync({ name: "ffi" }).state;
  } catch {
    state = "denied";
  }
  if (state !== "granted") {
    return {
      ok: false,
      reason:
        "shared memory between processes needs FFI, which this process was not granted: run it with --allow-ffi",
    };
  }
  try {
    const lib = Deno.dlopen("libc.so.6", SYMBOLS);
    return { ok: true, symbols: lib.symbols, sysFutex };
  } catch (error) {
    return {
      ok: false,
      reason: `cannot open libc.so.6 for shared memory: ${
        (error as Error).message
      }`,
    };
  }
}

/** The current thread's errno (valid right after a call that failed). */
export function errno(lib: Libc): number {
  const cell = lib.__errno_location();
  return cell ? new Deno.UnsafePointerView(cell).getInt32() : 0;
}
