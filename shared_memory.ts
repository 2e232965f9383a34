// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Raw memory shared by OS processes: Python's
 * `multiprocessing.shared_memory.SharedMemory`.
 *
 * One process makes a block of bytes; any process of the same user on the
 * same machine attaches to it by its {@linkcode SharedMemory.name} (a
 * child, or an unrelated `deno run`) and sees the same bytes: a write in
 * one is a read in the others, with no copy. Pass a `SharedMemory` in a
 * child's `args` and the child gets it attached.
 *
 * ```ts
 * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
 *
 * using shm = new SharedMemory({ create: true, size: 16 });
 * shm.buf[0] = 42;
 * console.log(shm.name); // give this to another process to attach
 * ```
 *
 * **It needs `--allow-ffi`.** Deno shares memory between OS processes only
 * through its foreign function interface (`mmap` of libc), on Linux
 * (x86_64 and aarch64). Granting FFI amounts to allowing native code, so it
 * is the user's choice; without it the constructor throws an error that
 * says so.
 *
 * Unlike Python's, a block lives in no file system (it is a `memfd`), so
 * nothing is ever left behind in `/dev/shm`, however its processes end (a
 * `SIGKILL` too). Its name lasts while the process that made it runs and
 * has not called {@linkcode SharedMemory.unlink}; the bytes last while any
 * process has them attached. The name is chosen by the library.
 *
 * @module
 */
import { Segment } from "./_shm/ffi/segment.ts";
import { ffiSupport } from "./_shm/ffi/self_test.ts";
import { crossesProcesses, registerKind, toWire } from "./_wire.ts";
import type { WireContext, WireForm } from "./_wire.ts";

/** Options of the {@linkcode SharedMemory} constructor. */
export interface SharedMemoryOptions {
  /**
   * The name of a block to attach to (another's
   * {@linkcode SharedMemory.name}). Leave it out with `create: true`: the
   * library names new blocks.
   */
  name?: string;
  /** `true` makes a new block (default `false`: attach to `name`). */
  create?: boolean;
  /** The size of a new block in bytes, at least 1 (ignored when attaching). */
  size?: number;
}

const NAME = /^psm_(\d+)_(\d+)_([0-9a-f]{16})$/;

function labelOf(token: string): string {
  return `psm_${token}`;
}

/**
 * A block of memory shared by OS processes (Python's
 * `multiprocessing.shared_memory.SharedMemory`).
 *
 * @example Make a block, and attach to it by name
 * ```ts
 * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
 * import assert from "node:assert/strict";
 *
 * const made = new SharedMemory({ create: true, size: 1024 });
 * const attached = new SharedMemory({ name: made.name });
 * made.buf.set([1, 2, 3]);
 * assert.deepEqual([...attached.buf.subarray(0, 3)], [1, 2, 3]);
 * assert.equal(attached.size, 1024);
 * attached.close();
 * made.close();
 * made.unlink();
 * ```
 */
export class SharedMemory {
  #name: string;
  #segment: Segment;
  #buf: Uint8Array<ArrayBuffer> | undefined;
  #created: boolean;
  #unlinked = false;

  /**
   * Makes a new block (`create: true`), or attaches to the block `name`.
   *
   * @param options `{ create: true, size }` or `{ name }`.
   * @throws {Error} When FFI is not granted (`--allow-ffi`) or not supported
   * here.
   * @throws {Deno.errors.NotFound} When no block has that name (any more).
   * @throws {RangeError} When a new block's `size` is not a positive integer.
   * @throws {TypeError} When a new block is given a name, or an attach has
   * none, or a name is not one this library made.
   *
   * @example Attach in another process
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using shm = new SharedMemory({ create: true, size: 8 });
   * shm.buf[7] = 7;
   * const code = `
   *   import { SharedMemory } from ${JSON.stringify(import.meta.resolve("@mp/multiprocessing/shared_memory"))};
   *   using shm = new SharedMemory({ name: Deno.args[0] });
   *   shm.buf[0] = shm.buf[7] * 6;
   * `;
   * const done = await new Deno.Command(Deno.execPath(), {
   *   args: ["run", "--allow-ffi", `data:text/javascript,${encodeURIComponent(code)}`, shm.name],
   * }).output();
   * assert.equal(done.success, true);
   * assert.equal(shm.buf[0], 42);
   * shm.unlink();
   * ```
   */
  constructor(options: SharedMemoryOptions) {
    const { name, create = false, size } = options ?? {};
    if (create) {
      if (name !== undefined) {
        throw new TypeError(
          "Cannot choose the name of a new SharedMemory: leave name out, and pass the name it gets (its .name) to the processes that attach to it",
        );
      }
      if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1) {
        throw new RangeError(
          `Cannot make a SharedMemory of ${size} bytes: give a size in bytes that is a whole number of at least 1`,
        );
      }
    } else if (typeof name !== "string") {
      throw new TypeError(
        "Cannot attach to a SharedMemory without its name: pass { name } of an existing block, or { create: true, size } for a new one",
      );
    }
    const support = ffiSupport();
    if (!support.ok) {
      throw new Error(
        `SharedMemory is not available: ${support.reason}`,
      );
    }
    this.#created = create;
    if (create) {
      const token = randomToken();
      this.#segment = Segment.create(size!, labelOf(token));
      this.#name = `psm_${Deno.pid}_${this.#segment.descriptor}_${token}`;
    } else {
      const match = NAME.exec(name!);
      if (!match) {
        throw new TypeError(
          `Cannot attach to a SharedMemory named ${
            JSON.stringify(name)
          }: it is not a name this library gives; pass the .name of the SharedMemory to attach to`,
        );
      }
      const [, pid, fd, token] = match;
      try {
        this.#segment = Segment.attach(
          `/proc/${pid}/fd/${fd}`,
          labelOf(token),
        );
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) {
          throw new Deno.errors.NotFound(
            `No SharedMemory named ${name}: the process that made it unlinked it or ended`,
          );
        }
        throw error;
      }
      this.#name = name!;
      // Only its maker's descriptor keeps the name: ours is not needed.
      this.#segment.closeDescriptor();
    }
  }

  /**
   * The name other processes attach by.
   *
   * @returns The name, such as `psm_1234_21_0123456789abcdef`.
   *
   * @example A name to pass on
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using shm = new SharedMemory({ create: true, size: 1 });
   * assert.match(shm.name, /^psm_/);
   * shm.unlink();
   * ```
   */
  get name(): string {
    return this.#name;
  }

  /**
   * The size of the block in bytes.
   *
   * @returns The size.
   *
   * @example The size asked for
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using shm = new SharedMemory({ create: true, size: 100 });
   * assert.equal(shm.size, 100);
   * shm.unlink();
   * ```
   */
  get size(): number {
    return this.#segment.size;
  }

  /**
   * The bytes of the block, shared with every process that attached it.
   * `Atomics` operations on views of it are atomic across processes (but
   * `Atomics.wait` refuses it: it is not a `SharedArrayBuffer`).
   *
   * @returns A `Uint8Array` over the whole block.
   * @throws {Error} After {@linkcode SharedMemory.close}.
   *
   * @example Write and read
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using shm = new SharedMemory({ create: true, size: 8 });
   * new DataView(shm.buf.buffer).setFloat64(0, 1.5);
   * assert.equal(new DataView(shm.buf.buffer).getFloat64(0), 1.5);
   * shm.unlink();
   * ```
   */
  get buf(): Uint8Array<ArrayBuffer> {
    if (!this.#segment.mapped) {
      throw new Error(
        `Cannot use the buffer of SharedMemory ${this.#name}: it was closed; attach again with new SharedMemory({ name })`,
      );
    }
    return this.#buf ??= new Uint8Array(this.#segment.view());
  }

  /**
   * Detaches this process from the block: `buf` and every view of it
   * become empty (length 0). Other processes keep theirs; the maker's
   * name stays until {@linkcode SharedMemory.unlink}. Closing twice does
   * nothing.
   *
   * @example Views are empty after close
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * const shm = new SharedMemory({ create: true, size: 8 });
   * const view = shm.buf;
   * shm.close();
   * assert.equal(view.length, 0);
   * shm.unlink();
   * ```
   */
  close(): void {
    if (!this.#segment.mapped) return;
    // Detaching the buffer empties every view of it, so no one can touch
    // the memory once it is unmapped.
    this.#buf?.buffer.transfer(0);
    this.#buf = undefined;
    const descriptor = this.#created && !this.#unlinked;
    if (descriptor) {
      // The maker keeps the name alive until unlink().
      this.#segment.unmapKeepingDescriptor();
    } else this.#segment.unmap();
  }

  /**
   * Ends the name: no process can attach any more, and the memory goes
   * once every process closed it (or ended). Called by the process that
   * made the block; its end unlinks it too, however it ends.
   *
   * @throws {TypeError} In a process that attached the block rather than
   * made it.
   *
   * @example Unlink, then attaching fails
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * const shm = new SharedMemory({ create: true, size: 8 });
   * shm.close();
   * shm.unlink();
   * assert.throws(
   *   () => new SharedMemory({ name: shm.name }),
   *   Deno.errors.NotFound,
   * );
   * ```
   */
  unlink(): void {
    if (!this.#created) {
      throw new TypeError(
        `Cannot unlink SharedMemory ${this.#name} here: only the process that made it can, and its end does too; close() it here`,
      );
    }
    this.#unlinked = true;
    this.#segment.closeDescriptor();
  }

  /**
   * Closes this process's attachment (the maker's name stays until
   * `unlink()`), for `using`.
   *
   * @example Closed at the end of the scope
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * let view: Uint8Array;
   * {
   *   using shm = new SharedMemory({ create: true, size: 4 });
   *   view = shm.buf;
   *   shm.unlink();
   * }
   * assert.equal(view.length, 0);
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Attached by name wherever it goes.
   *
   * @ignore
   */
  readonly [crossesProcesses] = true;

  /**
   * The name a child attaches by.
   *
   * @ignore
   */
  [toWire](_ctx: WireContext): WireForm {
    return {
      kind: "SharedMemory",
      module: import.meta.url,
      state: this.#name,
    };
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

registerKind(
  "SharedMemory",
  (name) => new SharedMemory({ name: name as string }),
);
