// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A segment of memory that OS processes share: an anonymous file
// (`memfd_create`) mapped `MAP_SHARED`. It has no name in any file system,
// so nothing of it outlives the processes that use it, however they end
// (a SIGKILL too): the kernel frees it with the last descriptor and the
// last mapping. Another process of the same user opens it through
// `/proc/<pid>/fd/<fd>` of a process that holds it (its locator), as long as
// that process lives and keeps the descriptor open.
//
// The mapping is seen from JavaScript as a plain `ArrayBuffer` (Deno gives
// no `SharedArrayBuffer` over foreign memory): `Atomics` operations work on
// it across processes, `Atomics.wait` does not, which is why kernel_futex.ts
// exists.
import { errno, type Libc, libc } from "./libc.ts";

const MFD_CLOEXEC = 1;
const PROT_READ_WRITE = 3;
const MAP_SHARED = 1;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const SEEK_END = 2;
const MAP_FAILED = 0xffffffffffffffffn;

/** The bound libc functions, or an `Error` that says why there are none. */
export function requireLibc(): Libc {
  const lib = libc();
  if (!lib.ok) throw new Error(capitalize(lib.reason));
  return lib.symbols;
}

function capitalize(text: string): string {
  return text[0].toUpperCase() + text.slice(1);
}

function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

function failed(lib: Libc, what: string): Error {
  const code = errno(lib);
  const reason = code === 2
    ? "it does not exist (or its process ended)"
    : code === 13 || code === 1
    ? "permission denied (another user's process?)"
    : code === 12 || code === 28
    ? "out of memory"
    : `errno ${code}`;
  return new Error(`Cannot ${what}: ${reason}`);
}

/** What the descriptor link `path` names (`/memfd:label (deleted)`). */
function linkOf(lib: Libc, path: string): string {
  const target = new Uint8Array(4096);
  const length = Number(
    lib.readlink(cString(path), target, BigInt(target.length)),
  );
  return length < 0 ? "" : new TextDecoder().decode(target.subarray(0, length));
}

/** One mapping of a shared segment into this process. */
export class Segment {
  /** The size in bytes. */
  readonly size: number;
  /** Where it is mapped in this process. */
  readonly base: Deno.PointerObject;
  #lib: Libc;
  #fd: number;
  #mapped = true;

  private constructor(lib: Libc, fd: number, size: number) {
    this.#lib = lib;
    this.#fd = fd;
    this.size = size;
    const base = lib.mmap(
      null,
      BigInt(size),
      PROT_READ_WRITE,
      MAP_SHARED,
      fd,
      0n,
    );
    if (base === null || Deno.UnsafePointer.value(base) === MAP_FAILED) {
      const error = failed(lib, `map ${size} bytes of shared memory`);
      lib.close(fd);
      throw error;
    }
    this.base = base;
  }

  /**
   * Makes a new segment of `size` bytes, zeroed.
   *
   * @param size Bytes, more than 0.
   * @param label What the segment shows as in `/proc/<pid>/fd` (a debug aid).
   * @throws {Error} Where FFI is not granted or supported, or memory ran out.
   */
  static create(size: number, label = "multiprocessing"): Segment {
    const lib = requireLibc();
    const fd = lib.memfd_create(cString(label), MFD_CLOEXEC);
    if (fd < 0) throw failed(lib, "make a shared memory segment");
    if (lib.ftruncate(fd, BigInt(size)) !== 0) {
      const error = failed(
        lib,
        `size a shared memory segment to ${size} bytes`,
      );
      lib.close(fd);
      throw error;
    }
    return new Segment(lib, fd, size);
  }

  /**
   * Maps the segment that `locator` (another's {@linkcode Segment.locator})
   * names, whole.
   *
   * @param label When given, the segment must be the one made with this
   * label (a descriptor number can be reused for another file).
   * @throws {Error} When it cannot be opened or mapped.
   * @throws {Deno.errors.NotFound} When it is not there (or not the one
   * `label` names).
   */
  static attach(locator: string, label?: string): Segment {
    const lib = requireLibc();
    const expected = `/memfd:${label} (deleted)`;
    // Looked at before opening too: opening another file (a FIFO) could
    // block or have effects.
    if (label !== undefined && linkOf(lib, locator) !== expected) {
      throw new Deno.errors.NotFound(
        `Cannot open the shared memory at ${locator}: it is no longer there`,
      );
    }
    const fd = lib.open(cString(locator), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
      const missing = errno(lib) === 2;
      const error = failed(lib, `open the shared memory at ${locator}`);
      throw missing ? new Deno.errors.NotFound(error.message) : error;
    }
    if (
      label !== undefined && linkOf(lib, `/proc/self/fd/${fd}`) !== expected
    ) {
      lib.close(fd);
      throw new Deno.errors.NotFound(
        `Cannot open the shared memory at ${locator}: it is no longer there (its descriptor now names another file)`,
      );
    }
    const size = Number(lib.lseek(fd, 0n, SEEK_END));
    if (size <= 0) {
      lib.close(fd);
      throw new Error(
        `Cannot map the shared memory at ${locator}: it is empty`,
      );
    }
    return new Segment(lib, fd, size);
  }

  /**
   * Where another process of this user opens this segment, while this
   * process lives and the descriptor is open.
   */
  get locator(): string {
    if (this.#fd < 0) {
      throw new Error(
        "Cannot name a shared memory segment whose descriptor was closed",
      );
    }
    return `/proc/${Deno.pid}/fd/${this.#fd}`;
  }

  /** The descriptor in this process, or -1 once closed. */
  get descriptor(): number {
    return this.#fd;
  }

  /** Whether the mapping is still there. */
  get mapped(): boolean {
    return this.#mapped;
  }

  /**
   * A plain `ArrayBuffer` over `length` bytes from `offset` of the mapping
   * (the rest of it by default). Valid until {@linkcode Segment.unmap}.
   */
  view(offset = 0, length: number = this.size - offset): ArrayBuffer {
    if (!this.#mapped) {
      throw new Error("Cannot use a shared memory segment after unmapping it");
    }
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(
        `Cannot view bytes ${offset} to ${
          offset + length
        } of a shared memory segment of ${this.size} bytes`,
      );
    }
    return new Deno.UnsafePointerView(this.base).getArrayBuffer(length, offset);
  }

  /** Closes the descriptor: no one can attach by the locator any more. */
  closeDescriptor(): void {
    if (this.#fd < 0) return;
    this.#lib.close(this.#fd);
    this.#fd = -1;
  }

  /**
   * Unmaps the segment and closes the descriptor. Every view must have
   * been detached first: touching the memory after this ends the process.
   */
  unmap(): void {
    this.closeDescriptor();
    this.unmapKeepingDescriptor();
  }

  /**
   * Unmaps the segment, keeping the descriptor (and so the locator) open.
   * Every view must have been detached first.
   */
  unmapKeepingDescriptor(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    this.#lib.munmap(this.base, BigInt(this.size));
  }
}

// Names in /dev/shm. A named segment is still a memfd; its name is a
// symbolic link `/dev/shm/<name>` to the maker's `/proc/<pid>/fd/<fd>`.
// Making the link is atomic and fails if the name is taken (O_EXCL's
// guarantee), removing it ends the name for everyone, and the memory itself
// never outlives its processes: a maker killed with SIGKILL leaves only a
// dangling link, which counts as no name and is swept away.

const NAMES = "/dev/shm";
const EEXIST = 17;
const LOCATOR = /^\/proc\/\d+\/fd\/\d+$/;

/** The path of the link that is the name `name`. */
export function pathOfName(name: string): string {
  return `${NAMES}/${name}`;
}

/** What a segment made for `name` shows as in `/proc/<pid>/fd`. */
export function labelOfName(name: string): string {
  return `psm:${name}`;
}

/** The locator `/dev/shm/<name>` links to, if the link is there. */
function linkedLocator(lib: Libc, name: string): string | undefined {
  const target = linkOf(lib, `${NAMES}/${name}`);
  return LOCATOR.test(target) ? target : undefined;
}

/** Whether `locator` is still the live segment made for `name`. */
function alive(lib: Libc, name: string, locator: string): boolean {
  return linkOf(lib, locator) === `/memfd:${labelOfName(name)} (deleted)`;
}

/**
 * The locator of the live segment named `name`, or `undefined` (a dangling
 * name, whose maker ended, is removed on the way).
 */
export function locatorOfName(name: string): string | undefined {
  const lib = requireLibc();
  const locator = linkedLocator(lib, name);
  if (locator === undefined) return undefined;
  if (alive(lib, name, locator)) return locator;
  lib.unlink(cString(`${NAMES}/${name}`));
  return undefined;
}

/**
 * Gives `segment` (made with the label of `name`) the name `name`.
 *
 * @returns `false` when a live segment has the name already.
 * @throws {Error} When the link cannot be made for another reason.
 */
export function publishName(name: string, segment: Segment): boolean {
  const lib = requireLibc();
  for (let attempt = 0; attempt < 2; attempt++) {
    const made = lib.symlink(
      cString(segment.locator),
      cString(`${NAMES}/${name}`),
    );
    if (made === 0) return true;
    if (errno(lib) !== EEXIST) {
      throw failed(lib, `name a shared memory segment ${NAMES}/${name}`);
    }
    // Taken: by a live segment, or by a dangling link that can go.
    if (locatorOfName(name) !== undefined) return false;
  }
  return false;
}

/**
 * Removes the name `name`; with `locator`, only while it still names that
 * segment (another may have taken the name since).
 *
 * @returns Whether a name was removed.
 */
export function removeName(name: string, locator?: string): boolean {
  const lib = requireLibc();
  const target = linkedLocator(lib, name);
  if (target === undefined || (locator && target !== locator)) return false;
  return lib.unlink(cString(`${NAMES}/${name}`)) === 0;
}

/**
 * Removes the dangling names that makers killed without a chance to clean
 * up left behind. Needs read permission on /dev/shm; without it, or where
 * there is none, it does nothing.
 */
export function sweepDanglingNames(): void {
  const lib = requireLibc();
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(NAMES)];
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isSymlink) continue;
    const locator = linkedLocator(lib, entry.name);
    // Only links whose process or descriptor is gone: a reused descriptor
    // may belong to someone else's link.
    if (locator !== undefined && linkOf(lib, locator) === "") {
      lib.unlink(cString(`${NAMES}/${entry.name}`));
    }
  }
}
