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
 * A block may be given a name (`{ name: "my_block", create: true, size }`)
 * or gets a random one like Python's (`psm_1a2b3c4d`); the name shows in
 * `/dev/shm`. Any process that attached the block may
 * {@linkcode SharedMemory.unlink} it, which ends the name while every
 * attachment keeps its bytes. As with Python's resource tracker, a block
 * whose maker ends without unlinking it is unlinked then (on a normal end,
 * an uncaught error, or SIGHUP, SIGINT or SIGTERM where the library watches
 * signals: with `--allow-all`, as for its socket folder). The memory itself
 * is an anonymous `memfd` that the name links to, so the kernel frees it
 * with the last process that holds it, however they end; a maker ended
 * otherwise (`SIGKILL`) leaves only a dangling name, which counts as none
 * and is swept by the next attach to it or the next block made.
 * {@linkcode ShareableList} keeps a fixed-length list of numbers, strings
 * and bytes in such a block, and a {@linkcode SharedMemoryManager} makes
 * blocks that end together, when it shuts down.
 *
 * @module
 */
import {
  labelOfName,
  locatorOfName,
  pathOfName,
  publishName,
  removeName,
  Segment,
  sweepDanglingNames,
} from "./_shm/ffi/segment.ts";
import { ffiSupport } from "./_shm/ffi/self_check.ts";
import { unlinkOnSignal } from "./_backend/subprocess/socket_dir.ts";
import { crossesProcesses, registerKind, toWire } from "./_wire.ts";
import { ProcessError } from "./errors.ts";
import type { WireContext, WireForm } from "./_wire.ts";

/** Options of the {@linkcode SharedMemory} constructor. */
export interface SharedMemoryOptions {
  /**
   * The name of the block to attach to, or of the new block with
   * `create: true` (left out, a new block gets a random `psm_` name): up
   * to 200 characters without a slash (a leading one is dropped).
   */
  name?: string;
  /** `true` makes a new block (default `false`: attach to `name`). */
  create?: boolean;
  /** The size of a new block in bytes, at least 1 (ignored when attaching). */
  size?: number;
  /**
   * Whether this process unlinks the name when it ends, if no process did
   * (Python's `track`). Default: `true` for a new block, `false` for an
   * attach (where Python's is `true`: here an attacher leaves the block to
   * its maker). A new block is always tracked: its memory ends with its
   * maker, so its name cannot outlive it.
   */
  track?: boolean;
}

/**
 * The blocks this process made or attached tracked and has not unlinked,
 * by name, with the locator each name must still link to: their names end
 * with the process.
 */
const madeHere = new Map<string, string>();

/** Has `name` end with this process, while it links to `locator`. */
function track(name: string, locator: string): void {
  madeHere.set(name, locator);
  // The janitor thread removes it on a signal that ends the process.
  unlinkOnSignal(pathOfName(name), locator);
}

/** Leaves `name` be at the end of this process. */
function untrack(name: string): void {
  madeHere.delete(name);
  unlinkOnSignal(pathOfName(name));
}

function unlinkMadeHere(): void {
  for (const [name, locator] of madeHere) {
    try {
      removeName(name, locator);
    } catch {
      // The process is ending; a name it cannot remove dangles, and the
      // next maker sweeps it.
    }
  }
  madeHere.clear();
}

globalThis.addEventListener("unload", unlinkMadeHere);
// An uncaught error ends the process without `unload`; one that an
// earlier listener handled (called preventDefault) does not end it.
const onUncaught = (event: Event) => {
  if (!event.defaultPrevented) unlinkMadeHere();
};
globalThis.addEventListener("error", onUncaught);
globalThis.addEventListener("unhandledrejection", onUncaught);

/** `name` without a leading slash, if it is one a block can have. */
function checkedName(name: unknown): string {
  const bare = typeof name === "string" && name.startsWith("/")
    ? name.slice(1)
    : name;
  if (
    typeof bare !== "string" || bare.length === 0 || bare.length > 200 ||
    bare.includes("/") || bare.includes("\0") || bare === "." || bare === ".."
  ) {
    throw new TypeError(
      `Cannot use ${
        JSON.stringify(name)
      } as the name of a SharedMemory: give 1 to 200 characters without a slash (one leading slash is allowed)`,
    );
  }
  return bare;
}

function makeNamed(
  name: string,
  size: number,
): { name: string; segment: Segment } {
  const segment = Segment.create(size, labelOfName(name));
  if (!publishName(name, segment)) {
    segment.unmap();
    throw new Deno.errors.AlreadyExists(
      `Cannot make a SharedMemory named ${name}: a block of that name exists; attach to it with { name }, or choose another name`,
    );
  }
  return { name, segment };
}

function makeUnnamed(size: number): { name: string; segment: Segment } {
  for (;;) {
    const name = `psm_${randomToken()}`;
    try {
      return makeNamed(name, size);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
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
  #tracked: boolean;
  #locator = "";

  /**
   * Makes a new block (`create: true`), or attaches to the block `name`.
   *
   * @param options `{ create: true, size }`, `{ name, create: true, size }`
   * or `{ name }`.
   * @throws {Error} When FFI is not granted (`--allow-ffi`) or not supported
   * here.
   * @throws {Deno.errors.NotFound} When no block has that name (any more).
   * @throws {RangeError} When a new block's `size` is not a positive integer.
   * @throws {Deno.errors.AlreadyExists} When a block named `name` exists
   * already (Python's `FileExistsError`).
   * @throws {TypeError} When an attach has no name, a name is empty, too
   * long or holds a slash, or a new block is asked not to be tracked.
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
    const { create = false, size } = options ?? {};
    const name = options?.name === undefined
      ? undefined
      : checkedName(options.name);
    if (create) {
      if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 1) {
        throw new RangeError(
          `Cannot make a SharedMemory of ${size} bytes: give a size in bytes that is a whole number of at least 1`,
        );
      }
      if (options.track === false) {
        throw new TypeError(
          "Cannot make an untracked SharedMemory: a new block's name ends with its maker, whose descriptor holds the memory; leave out track",
        );
      }
    } else if (name === undefined) {
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
    this.#tracked = create || options.track === true;
    if (create) {
      sweepDanglingNames();
      const made = name === undefined
        ? makeUnnamed(size!)
        : makeNamed(name, size!);
      this.#name = made.name;
      this.#segment = made.segment;
      this.#locator = made.segment.locator;
      track(this.#name, this.#locator);
    } else {
      const locator = locatorOfName(name!);
      try {
        if (locator === undefined) throw new Deno.errors.NotFound("");
        this.#segment = Segment.attach(locator, labelOfName(name!));
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) {
          throw new Deno.errors.NotFound(
            `No SharedMemory named ${name}: it was unlinked, or the process that made it ended; check the name, or make it with create: true`,
          );
        }
        throw error;
      }
      this.#name = name!;
      this.#locator = locator!;
      if (this.#tracked) track(this.#name, this.#locator);
      // Only its maker's descriptor keeps the name: ours is not needed.
      this.#segment.closeDescriptor();
    }
  }

  /**
   * The name other processes attach by.
   *
   * @returns The name, such as `psm_1a2b3c4d`, or the one chosen.
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
    if (this.#created && this.#stillNamed()) {
      // The maker's descriptor is what the name links to: it stays until
      // unlink(), here or in any process, or the end of this one.
      this.#segment.unmapKeepingDescriptor();
    } else this.#segment.unmap();
  }

  /** Whether the name still links to the block this process made. */
  #stillNamed(): boolean {
    if (madeHere.get(this.#name) !== this.#locator) return false;
    if (locatorOfName(this.#name) === this.#locator) return true;
    // Another process unlinked it: the descriptor has no use any more.
    untrack(this.#name);
    return false;
  }

  /**
   * Ends the name: no process can attach by it any more, while every
   * process that attached the block keeps its bytes until it closes it (or
   * ends). Any process that attached the block may call it, once; the
   * maker's end unlinks it too.
   *
   * @throws {Deno.errors.NotFound} When the name was unlinked already.
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
    const removed = removeName(this.#name, this.#locator);
    if (this.#tracked) untrack(this.#name);
    if (this.#created) this.#segment.closeDescriptor();
    if (!removed) {
      throw new Deno.errors.NotFound(
        `Cannot unlink SharedMemory ${this.#name}: its name was unlinked already (here or by another process)`,
      );
    }
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
   * What `Deno.inspect` and `console.log` show: the name and the size, as
   * Python's `repr`.
   *
   * @param inspect `Deno.inspect`.
   * @param options Its options.
   * @returns `SharedMemory("...", size: ...)`.
   *
   * @example Printed
   * ```ts
   * import { SharedMemory } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * const name = `mp_doc_${crypto.randomUUID().slice(0, 8)}`;
   * using shm = new SharedMemory({ name, create: true, size: 512 });
   * assert.equal(Deno.inspect(shm), `SharedMemory("${name}", size: 512)`);
   * shm.unlink();
   * ```
   */
  [Symbol.for("Deno.customInspect")](
    inspect: typeof Deno.inspect,
    options: Deno.InspectOptions,
  ): string {
    return `SharedMemory(${inspect(this.#name, options)}, size: ${this.size})`;
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

/** What a {@linkcode ShareableList} holds: Python's int, float, bool, str, bytes and None. */
export type ShareableItem =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | null;

// The list's layout in its block: the item count, then per item its kind,
// the offset of its bytes, how many bytes it may take and how many it takes
// (a string's or byte array's), then the bytes.
const NUMBER = 1;
const BIGINT = 2;
const BOOLEAN = 3;
const NULL = 4;
const STRING = 5;
const BYTES = 6;
const SLOT = 16;

function kindOfItem(value: unknown): number {
  if (typeof value === "number") return NUMBER;
  if (typeof value === "bigint") return BIGINT;
  if (typeof value === "boolean") return BOOLEAN;
  if (value === null) return NULL;
  if (typeof value === "string") return STRING;
  if (value instanceof Uint8Array) return BYTES;
  throw new TypeError(
    `A ShareableList holds numbers, bigints, booleans, strings, Uint8Arrays and null, not ${
      typeof value === "object"
        ? value.constructor?.name ?? "object"
        : typeof value
    }: convert the item first`,
  );
}

function bytesOf(value: ShareableItem): Uint8Array {
  return typeof value === "string"
    ? new TextEncoder().encode(value)
    : value as Uint8Array;
}

/**
 * The bytes an item's slot may take, as Python's: 8 for a scalar; for a
 * string or byte array, its length rounded up to the next multiple of 8.
 */
function capacityOf(value: ShareableItem): number {
  const kind = kindOfItem(value);
  if (kind !== STRING && kind !== BYTES) return 8;
  return 8 * (Math.floor(bytesOf(value).length / 8) + 1);
}

/** Python's `==` between two items: byte arrays by their bytes. */
function sameItem(a: ShareableItem, b: ShareableItem): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }
  if (
    (typeof a === "bigint" && typeof b === "number") ||
    (typeof a === "number" && typeof b === "bigint")
  ) return a == b;
  return a === b;
}

/**
 * A fixed-length list in shared memory (Python's
 * `multiprocessing.shared_memory.ShareableList`): numbers, bigints,
 * booleans, strings, `Uint8Array`s and `null`, read and written by every
 * process that attached its {@linkcode ShareableList.shm}. An item may be
 * replaced by one of any kind that fits its slot, whose room is fixed when
 * the list is made, as in Python: 8 bytes for a scalar; for a string (in
 * UTF-8) or byte array, its length rounded up to the next multiple of 8
 * (`"howdy"` leaves room for 8 bytes, `""` for 8, an 8-byte string for 16).
 * Reads and writes take no lock: guard a sequence of them with a `Lock`, as
 * in Python.
 *
 * @example Make a list, and attach to it by name
 * ```ts
 * import { ShareableList } from "@mp/multiprocessing/shared_memory";
 * import assert from "node:assert/strict";
 *
 * const made = new ShareableList([1.5, 2n, true, "hello", null]);
 * const attached = new ShareableList(null, { name: made.shm.name });
 * attached.set(3, "world");
 * assert.equal(made.get(3), "world");
 * assert.deepEqual([...made], [1.5, 2n, true, "world", null]);
 * attached.shm.close();
 * made.shm.close();
 * made.shm.unlink();
 * ```
 */
export class ShareableList implements Iterable<ShareableItem> {
  /** The block that holds the list. */
  readonly shm: SharedMemory;
  #view: DataView<ArrayBuffer>;

  /**
   * Makes a list of `sequence` in a new block (named `name` if given, as
   * {@linkcode SharedMemory} names one), or (with `null` and `{ name }`)
   * attaches to the list in the block `name`.
   *
   * @param sequence The items of a new list, or `null` to attach.
   * @param options `{ name }` of the block to attach to, or to make.
   * @throws {TypeError} For an item of another kind, `null` without a
   * name, or a name a block cannot have.
   * @throws {Deno.errors.AlreadyExists} When a new list's name is taken.
   * @throws {Deno.errors.NotFound} When no block has the name to attach to.
   * @throws {Error} Where FFI is not granted or supported (see
   * {@linkcode SharedMemory}).
   *
   * @example A string's slot has room for its length rounded up to 8 bytes
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * const list = new ShareableList(["howdy"]);
   * list.set(0, "8 bytes!");
   * assert.throws(() => list.set(0, "9 bytes!!"), RangeError);
   * list.shm.unlink();
   * ```
   */
  constructor(
    sequence: Iterable<ShareableItem> | null,
    options?: { name?: string },
  ) {
    if (sequence === null) {
      if (typeof options?.name !== "string") {
        throw new TypeError(
          "Cannot attach to a ShareableList without its name: pass null and { name } (its .shm.name), or the items of a new list",
        );
      }
      this.shm = new SharedMemory({ name: options.name });
      this.#view = new DataView(this.shm.buf.buffer);
      return;
    }
    const items = [...sequence];
    const capacities = items.map(capacityOf);
    const header = 8 + SLOT * items.length;
    const size = capacities.reduce((sum, bytes) => sum + bytes, header);
    this.shm = new SharedMemory({ name: options?.name, create: true, size });
    const view = this.#view = new DataView(this.shm.buf.buffer);
    view.setInt32(0, items.length, true);
    let offset = header;
    items.forEach((item, i) => {
      view.setInt32(8 + SLOT * i + 4, offset, true);
      view.setInt32(8 + SLOT * i + 8, capacities[i], true);
      offset += capacities[i];
      this.set(i, item);
    });
  }

  /**
   * The number of items.
   *
   * @returns The length, fixed when the list was made.
   * @throws {Error} After its block was closed here.
   *
   * @example Three items
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using list = new ShareableList([1, 2, 3]);
   * assert.equal(list.length, 3);
   * list.shm.unlink();
   * ```
   */
  get length(): number {
    if (this.#view.buffer.detached) {
      throw new Error(
        `Cannot use ShareableList ${this.shm.name}: its block was closed; attach again with new ShareableList(null, { name })`,
      );
    }
    return this.#view.getInt32(0, true);
  }

  #slot(index: number): number {
    const length = this.length;
    const i = index < 0 ? index + length : index;
    if (!Number.isInteger(i) || i < 0 || i >= length) {
      throw new RangeError(
        `Index ${index} is out of range for a ShareableList of ${length} items`,
      );
    }
    return 8 + SLOT * i;
  }

  /**
   * The item at `index` (negative counts from the end).
   *
   * @param index The position.
   * @returns The item.
   * @throws {RangeError} Out of range.
   * @throws {Error} After its block was closed here.
   *
   * @example The last item
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using list = new ShareableList(["a", new Uint8Array([1, 2])]);
   * assert.deepEqual(list.get(-1), new Uint8Array([1, 2]));
   * list.shm.unlink();
   * ```
   */
  get(index: number): ShareableItem {
    const view = this.#view;
    const slot = this.#slot(index);
    const kind = view.getInt32(slot, true);
    const offset = view.getInt32(slot + 4, true);
    switch (kind) {
      case NUMBER:
        return view.getFloat64(offset, true);
      case BIGINT:
        return view.getBigInt64(offset, true);
      case BOOLEAN:
        return view.getUint8(offset) !== 0;
      case NULL:
        return null;
      default: {
        const length = view.getInt32(slot + 12, true);
        const bytes = new Uint8Array(view.buffer, offset, length).slice();
        return kind === STRING ? new TextDecoder().decode(bytes) : bytes;
      }
    }
  }

  /**
   * Replaces the item at `index` (negative counts from the end).
   *
   * @param index The position.
   * @param value The new item, of any kind the list holds.
   * @throws {RangeError} Out of range, or a string or byte array longer
   * than the slot's room.
   * @throws {TypeError} For a value of another kind.
   * @throws {Error} After its block was closed here.
   *
   * @example Any kind in any slot, if it fits
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using list = new ShareableList([0]);
   * list.set(0, "abc");
   * list.set(0, 7n);
   * assert.equal(list.get(0), 7n);
   * list.shm.unlink();
   * ```
   */
  set(index: number, value: ShareableItem): void {
    const view = this.#view;
    const slot = this.#slot(index);
    const kind = kindOfItem(value);
    const offset = view.getInt32(slot + 4, true);
    const capacity = view.getInt32(slot + 8, true);
    if (kind === STRING || kind === BYTES) {
      const bytes = bytesOf(value);
      if (bytes.length > capacity) {
        throw new RangeError(
          `Cannot store ${bytes.length} bytes at index ${index} of a ShareableList: its slot holds ${capacity}; make the list with a longer item there`,
        );
      }
      new Uint8Array(view.buffer, offset, bytes.length).set(bytes);
      view.setInt32(slot + 12, bytes.length, true);
    } else if (kind === NUMBER) view.setFloat64(offset, value as number, true);
    else if (kind === BIGINT) view.setBigInt64(offset, value as bigint, true);
    else if (kind === BOOLEAN) view.setUint8(offset, value ? 1 : 0);
    view.setInt32(slot, kind, true);
  }

  /**
   * How many items equal `value` (byte arrays by their bytes; a number and
   * a bigint by their value), as Python's `count`.
   *
   * @param value The item to look for.
   * @returns The number of items equal to it.
   *
   * @example Counting
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using list = new ShareableList([42, "a", 42]);
   * assert.equal(list.count(42), 2);
   * assert.equal(list.count("b"), 0);
   * list.shm.unlink();
   * ```
   */
  count(value: ShareableItem): number {
    let found = 0;
    for (const item of this) if (sameItem(item, value)) found++;
    return found;
  }

  /**
   * The position of the first item equal to `value` (as in
   * {@linkcode ShareableList.count}), as Python's `index`.
   *
   * @param value The item to look for.
   * @returns Its first position.
   * @throws {RangeError} When no item equals it.
   *
   * @example Finding an item
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using list = new ShareableList(["a", 100]);
   * assert.equal(list.index(100), 1);
   * assert.throws(() => list.index("100"), RangeError);
   * list.shm.unlink();
   * ```
   */
  index(value: ShareableItem): number {
    let i = 0;
    for (const item of this) {
      if (sameItem(item, value)) return i;
      i++;
    }
    throw new RangeError(
      `${
        typeof value === "string" ? JSON.stringify(value) : String(value)
      } is not in the ShareableList ${this.shm.name}`,
    );
  }

  /**
   * The items, in order.
   *
   * @returns An iterator over a snapshot taken item by item.
   *
   * @example Spread into an array
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using list = new ShareableList([1, null]);
   * assert.deepEqual([...list], [1, null]);
   * list.shm.unlink();
   * ```
   */
  *[Symbol.iterator](): Iterator<ShareableItem> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  /**
   * Closes this process's attachment of {@linkcode ShareableList.shm}.
   *
   * @example Closed at the end of the scope
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   *
   * let name: string;
   * {
   *   using list = new ShareableList([1]);
   *   name = list.shm.name;
   *   list.shm.unlink();
   * }
   * ```
   */
  [Symbol.dispose](): void {
    this.shm.close();
  }

  /**
   * What `Deno.inspect` and `console.log` show: the items and the block's
   * name, as Python's `repr`.
   *
   * @param inspect `Deno.inspect`.
   * @param options Its options.
   * @returns `ShareableList([...], name: "...")`.
   *
   * @example Printed
   * ```ts
   * import { ShareableList } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * using list = new ShareableList([1, "a"]);
   * assert.match(Deno.inspect(list), /^ShareableList\(\[ 1, "a" \], name: "psm_/);
   * list.shm.unlink();
   * ```
   */
  [Symbol.for("Deno.customInspect")](
    inspect: typeof Deno.inspect,
    options: Deno.InspectOptions,
  ): string {
    let items: string;
    try {
      items = inspect([...this], options);
    } catch {
      items = "<closed>"; // its view was emptied by close()
    }
    return `ShareableList(${items}, name: ${inspect(this.shm.name, options)})`;
  }

  /**
   * The block's name, which a child attaches by.
   *
   * @ignore
   */
  readonly [crossesProcesses] = true;

  /**
   * The block's name, which a child attaches by.
   *
   * @ignore
   */
  [toWire](_ctx: WireContext): WireForm {
    return {
      kind: "ShareableList",
      module: import.meta.url,
      state: this.shm.name,
    };
  }
}

/**
 * Makes blocks of shared memory and ends them together (Python's
 * `multiprocessing.managers.SharedMemoryManager`): each
 * {@linkcode SharedMemoryManager.SharedMemory} and
 * {@linkcode SharedMemoryManager.ShareableList} is a new block it tracks, and
 * {@linkcode SharedMemoryManager.shutdown} (or the end of an `await using`
 * block) unlinks and closes every one of them. Pass the blocks, or their
 * names, to children, which attach to them.
 *
 * Python's manager starts a server process that only keeps the names, for
 * the blocks to be unlinked even when the process that made them ends
 * without cleaning up. Here the blocks are made in the manager's own
 * process, whose ending unlinks them anyway (see {@linkcode SharedMemory}:
 * on a normal end, an uncaught error, or SIGHUP, SIGINT or SIGTERM where
 * the library watches signals; after SIGKILL a name dangles, and is swept),
 * so the manager needs no server: `start()` checks that shared memory can
 * be used here, and a block lives at most as long as this process.
 *
 * **It needs `--allow-ffi`**, as {@linkcode SharedMemory} does: without
 * it, `start()` rejects with an error that says so.
 *
 * @example Blocks that end with the manager
 * ```ts
 * import {
 *   SharedMemory,
 *   SharedMemoryManager,
 * } from "@mp/multiprocessing/shared_memory";
 * import assert from "node:assert/strict";
 *
 * let name: string;
 * {
 *   await using smm = new SharedMemoryManager();
 *   await smm.start();
 *   const shm = smm.SharedMemory(128);
 *   const list = smm.ShareableList([1, "two", null]);
 *   shm.buf[0] = 42;
 *   assert.equal(list.get(1), "two");
 *   name = shm.name;
 * }
 * assert.throws(() => new SharedMemory({ name }), Deno.errors.NotFound);
 * ```
 */
export class SharedMemoryManager implements AsyncDisposable {
  #state: "new" | "started" | "shut down" = "new";
  #blocks = new Set<SharedMemory>();

  /**
   * Makes the manager ready: it checks that this process can share memory
   * with others (Python's `start()` starts its server).
   *
   * @returns A promise that resolves once the manager makes blocks.
   * @throws {ProcessError} When it was started already.
   * @throws {Error} When FFI is not granted (`--allow-ffi`) or not supported
   * here.
   *
   * @example Started once
   * ```ts
   * import { SharedMemoryManager } from "@mp/multiprocessing/shared_memory";
   * import { ProcessError } from "@mp/multiprocessing/errors";
   * import assert from "node:assert/strict";
   *
   * await using smm = new SharedMemoryManager();
   * await smm.start();
   * await assert.rejects(smm.start(), ProcessError);
   * ```
   */
  start(): Promise<void> {
    return new Promise((resolve) => resolve(this.#start()));
  }

  #start(): void {
    if (this.#state === "started") {
      throw new ProcessError("Cannot start() the SharedMemoryManager twice");
    }
    const support = ffiSupport();
    if (!support.ok) {
      throw new Error(
        `SharedMemoryManager is not available: ${support.reason}`,
      );
    }
    this.#state = "started";
  }

  /** Throws unless started: `what` is the block it would make. */
  #checkStarted(what: string): void {
    if (this.#state === "started") return;
    throw new ProcessError(
      this.#state === "new"
        ? `Cannot make a ${what}: the SharedMemoryManager is not started; call start() first`
        : `Cannot make a ${what}: the SharedMemoryManager was shut down; call start() again, or use another`,
    );
  }

  /**
   * A new block of `size` bytes with a random name, which the manager
   * unlinks and closes at {@linkcode SharedMemoryManager.shutdown}.
   *
   * @param size Its size in bytes, at least 1.
   * @returns The block, as `new SharedMemory({ create: true, size })`.
   * @throws {ProcessError} When the manager is not started.
   * @throws {RangeError} When `size` is not a whole number of at least 1.
   *
   * @example A block passed to a child
   * ```ts
   * import { SharedMemoryManager } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * await using smm = new SharedMemoryManager();
   * await smm.start();
   * const shm = smm.SharedMemory(64);
   * assert.equal(shm.size, 64);
   * // new Process({ target: fill, args: [shm] }): the child attaches it
   * ```
   */
  SharedMemory(size: number): SharedMemory {
    this.#checkStarted("SharedMemory");
    const block = new SharedMemory({ create: true, size });
    this.#blocks.add(block);
    return block;
  }

  /**
   * A new list of `sequence` in a block with a random name, which the
   * manager unlinks and closes at {@linkcode SharedMemoryManager.shutdown}.
   *
   * @param sequence Its items (see {@linkcode ShareableList}).
   * @returns The list, as `new ShareableList(sequence)`.
   * @throws {ProcessError} When the manager is not started.
   * @throws {TypeError} For an item a `ShareableList` cannot hold.
   *
   * @example A list of the characters of a string, as in Python
   * ```ts
   * import { SharedMemoryManager } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * await using smm = new SharedMemoryManager();
   * await smm.start();
   * const list = smm.ShareableList("howdy");
   * assert.deepEqual([...list], ["h", "o", "w", "d", "y"]);
   * ```
   */
  ShareableList(sequence: Iterable<ShareableItem>): ShareableList {
    this.#checkStarted("ShareableList");
    const list = new ShareableList(sequence);
    this.#blocks.add(list.shm);
    return list;
  }

  /**
   * Ends every block the manager made: unlinks its name (unless some
   * process did already) and closes this process's attachment, so that
   * its memory is freed once the processes that attached it close it or
   * end. Views of the blocks here become empty. Shutting down twice does
   * nothing; the manager may be started again.
   *
   * @returns A promise that resolves once every block is ended.
   *
   * @example Shut down by hand
   * ```ts
   * import {
   *   SharedMemory,
   *   SharedMemoryManager,
   * } from "@mp/multiprocessing/shared_memory";
   * import assert from "node:assert/strict";
   *
   * const smm = new SharedMemoryManager();
   * await smm.start();
   * const name = smm.SharedMemory(8).name;
   * await smm.shutdown();
   * assert.throws(() => new SharedMemory({ name }), Deno.errors.NotFound);
   * ```
   */
  shutdown(): Promise<void> {
    return new Promise((resolve) => resolve(this.#shutdown()));
  }

  #shutdown(): void {
    if (this.#state !== "started") return;
    this.#state = "shut down";
    const blocks = [...this.#blocks];
    this.#blocks.clear();
    let failure: unknown;
    for (const block of blocks) {
      try {
        block.unlink();
      } catch (error) {
        // NotFound: unlinked already, by its user or another process. Any
        // other error is thrown once every block had its turn.
        if (!(error instanceof Deno.errors.NotFound)) failure ??= error;
      }
      block.close();
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Shuts the manager down when an `await using` block ends.
   *
   * @returns A promise that resolves once every block is ended.
   *
   * @example See {@linkcode SharedMemoryManager}.
   * ```ts ignore
   * await using smm = new SharedMemoryManager();
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

registerKind(
  "ShareableList",
  (name) => new ShareableList(null, { name: name as string }),
);
registerKind(
  "SharedMemory",
  (name) => new SharedMemory({ name: name as string }),
);
