// Copyright 2026 the multiprocessing for Deno authors. MIT license.
/**
 * Numbers shared by processes: Python's `multiprocessing.Value` and
 * `multiprocessing.Array`, over shared memory (a `SharedArrayBuffer`, or a
 * segment that subprocess children map too where FFI is granted).
 *
 * Pass a `Value` or an `Array` to a child inside `args` and the child works
 * on the same memory: its writes are seen by the parent, and the other way
 * round. Each one comes with a lock (an {@linkcode RLock} unless told
 * otherwise) for read-modify-write sequences, as in Python:
 *
 * ```ts
 * import { Value } from "@mp/multiprocessing/shared";
 *
 * const counter = new Value("i32", 0);
 * {
 *   using _ = await counter.getLock().hold();
 *   counter.value += 1; // a read and a write: hold the lock around both
 * }
 * console.log(counter.value); // 1
 * ```
 *
 * Types are `i8 u8 i16 u16 i32 u32 f32 f64 i64 u64 char`, or Python's
 * typecodes as aliases: `"b" "B" "h" "H" "i" "I" "l" "L" "q" "Q" "f" "d"
 * "c"`. `"l"` and `"L"` are 32-bit (C's `long` at its smallest, as on
 * Windows); use `"q"` or `"i64"` for 64 bits. 64-bit integers are
 * `bigint`s; a `char` (`"c"`) is a one-character string stored as one byte
 * (Python's one-byte `bytes`), so its character codes go from 0 to 255;
 * everything else is a `number`. This module exports the array class both as `Array`, Python's
 * name, and as `SharedArray`, which does not shadow the global `Array`.
 *
 * @module
 */
import {
  allocate,
  type Memory,
  type MemoryForm,
  memoryForm,
  memoryOf,
  registerSegmentClass,
} from "./_shm/memory.ts";
import {
  decodeSync,
  encode,
  registerKind,
  toWire,
  type WireContext,
  type WireForm,
} from "./_wire.ts";
import { Lock, RLock } from "./lock.ts";
import { checkRunning } from "./_shm/registry.ts";
// Re-exported so that this entry point documents the types it names.
export type { AcquireOptions, HoldOptions, Lock, RLock } from "./lock.ts";

/** The element types and what each reads as. */
export interface SharedTypes {
  /** 8-bit signed integer. */
  i8: { element: number; view: Int8Array };
  /** 8-bit unsigned integer. */
  u8: { element: number; view: Uint8Array };
  /** 16-bit signed integer. */
  i16: { element: number; view: Int16Array };
  /** 16-bit unsigned integer. */
  u16: { element: number; view: Uint16Array };
  /** 32-bit signed integer. */
  i32: { element: number; view: Int32Array };
  /** 32-bit unsigned integer. */
  u32: { element: number; view: Uint32Array };
  /** 32-bit float. */
  f32: { element: number; view: Float32Array };
  /** 64-bit float. */
  f64: { element: number; view: Float64Array };
  /** 64-bit signed integer. */
  i64: { element: bigint; view: BigInt64Array };
  /** 64-bit unsigned integer. */
  u64: { element: bigint; view: BigUint64Array };
  /** A character of code 0 to 255, stored as one byte (C's `char`). */
  char: { element: string; view: Uint8Array };
}

/** Python's typecodes, and the type each one names. */
export interface TypecodeAliases {
  /** `signed char`. */
  b: "i8";
  /** `unsigned char`. */
  B: "u8";
  /** `short`. */
  h: "i16";
  /** `unsigned short`. */
  H: "u16";
  /** `int`. */
  i: "i32";
  /** `unsigned int`. */
  I: "u32";
  /** `long`, 32-bit here. */
  l: "i32";
  /** `unsigned long`, 32-bit here. */
  L: "u32";
  /** `long long`. */
  q: "i64";
  /** `unsigned long long`. */
  Q: "u64";
  /** `float`. */
  f: "f32";
  /** `double`. */
  d: "f64";
  /** `char`: a one-character string here, where Python has one-byte `bytes`. */
  c: "char";
}

/** A type name (`"i32"`) or a Python typecode (`"i"`). */
export type TypeCode = keyof SharedTypes | keyof TypecodeAliases;

/** The type name a code stands for. */
export type TypeName<C extends TypeCode> = C extends keyof TypecodeAliases
  ? TypecodeAliases[C]
  : C;

/**
 * What an element of type `C` reads as: `number`, `bigint` for 64-bit
 * integers, or a one-character `string` for `char`.
 */
export type ElementOf<C extends TypeCode> = SharedTypes[TypeName<C>]["element"];

/** The typed array over elements of type `C`. */
export type ViewOf<C extends TypeCode> = SharedTypes[TypeName<C>]["view"];

/** The lock of a `Value` or `Array`: `true` (a new RLock), `false` (none), or one to use. */
export type LockOption = boolean | Lock | RLock;

/** Options of {@linkcode Value} and {@linkcode SharedArray}. */
export interface SharedOptions {
  /**
   * `true` (default) makes a new {@linkcode RLock}; `false` makes a raw
   * object without one; a `Lock` or `RLock` is used as it is.
   */
  lock?: LockOption;
}

const ALIASES: Record<string, keyof SharedTypes> = {
  b: "i8",
  B: "u8",
  h: "i16",
  H: "u16",
  i: "i32",
  I: "u32",
  l: "i32",
  L: "u32",
  q: "i64",
  Q: "u64",
  f: "f32",
  d: "f64",
  c: "char",
};

type AnyView =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

interface ViewClass {
  new (buffer: Memory, offset?: number, length?: number): AnyView;
  readonly BYTES_PER_ELEMENT: number;
}

const VIEWS: Record<keyof SharedTypes, ViewClass> = {
  i8: Int8Array,
  u8: Uint8Array,
  i16: Int16Array,
  u16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
  f32: Float32Array,
  f64: Float64Array,
  i64: BigInt64Array,
  u64: BigUint64Array,
  char: Uint8Array,
};

function typeName(code: string): keyof SharedTypes {
  if (Object.hasOwn(VIEWS, code)) return code as keyof SharedTypes;
  if (Object.hasOwn(ALIASES, code)) return ALIASES[code];
  throw new TypeError(
    `Unknown type ${JSON.stringify(code)}: use one of ${
      Object.keys(VIEWS).join(" ")
    } or a Python typecode (${Object.keys(ALIASES).join(" ")})`,
  );
}

/**
 * Reads and writes of single elements, each one atomic: integers through
 * `Atomics`, floats through an integer view of the same bits, so a reader
 * never sees half of a write.
 */
interface Cells {
  view: AnyView;
  load(index: number): number | bigint | string;
  store(index: number, value: number | bigint | string): void;
}

// Scratch space to turn float bits into floats and back (per process).
const scratch = new ArrayBuffer(8);
const f32 = new Float32Array(scratch);
const i32 = new Int32Array(scratch);
const f64 = new Float64Array(scratch);
const i64 = new BigInt64Array(scratch);

function cellsOf(
  type: keyof SharedTypes,
  buffer: Memory,
  length: number,
): Cells {
  const view = new VIEWS[type](buffer, 0, length);
  // Every read and write through the library comes here: a process its
  // parent ended gets an error instead (the typed array of `.array` is
  // plain memory, beyond this check).
  if (type === "f32") {
    const bits = new Int32Array(buffer, 0, length);
    return {
      view,
      load: (i) => (checkRunning(), i32[0] = Atomics.load(bits, i), f32[0]),
      store: (i, v) => (
        checkRunning(), f32[0] = Number(v), Atomics.store(bits, i, i32[0])
      ),
    };
  }
  if (type === "f64") {
    const bits = new BigInt64Array(buffer, 0, length);
    return {
      view,
      load: (i) => (checkRunning(), i64[0] = Atomics.load(bits, i), f64[0]),
      store: (i, v) => (
        checkRunning(), f64[0] = Number(v), Atomics.store(bits, i, i64[0])
      ),
    };
  }
  if (type === "char") {
    const bytes = view as Uint8Array;
    return {
      view,
      load: (
        i,
      ) => (checkRunning(), String.fromCharCode(Atomics.load(bytes, i))),
      store: (i, v) => (checkRunning(), Atomics.store(bytes, i, charCode(v))),
    };
  }
  if (type === "i64" || type === "u64") {
    const ints = view as BigInt64Array | BigUint64Array;
    return {
      view,
      load: (i) => (checkRunning(), Atomics.load(ints, i)),
      store: (i, v) => (checkRunning(), Atomics.store(ints, i, BigInt(v))),
    };
  }
  const ints = view as Int32Array;
  return {
    view,
    load: (i) => (checkRunning(), Atomics.load(ints, i)),
    store: (i, v) => (checkRunning(), Atomics.store(ints, i, Number(v))),
  };
}

/** The byte of a `char` element: a one-character string of code 0 to 255. */
function charCode(value: unknown): number {
  if (
    typeof value !== "string" || value.length !== 1 ||
    value.charCodeAt(0) > 255
  ) {
    throw new TypeError(
      `A char element is one character of code 0 to 255, got ${
        typeof value === "string" ? JSON.stringify(value) : typeof value
      }: pass a one-character string such as "x"`,
    );
  }
  return value.charCodeAt(0);
}

function lockOf(option: LockOption | undefined): Lock | RLock | null {
  if (option === undefined || option === true) return new RLock();
  if (option === false) return null;
  if (option instanceof Lock || option instanceof RLock) return option;
  throw new TypeError(
    `Unknown lock option ${
      String(option)
    }: pass true (a new RLock), false (no lock), a Lock or an RLock`,
  );
}

/** What crosses to a child: the memory, its type, and the lock's wire form. */
interface SharedState {
  buffer: MemoryForm;
  type: keyof SharedTypes;
  length: number;
  lock: unknown;
}

/** The state a handle being revived in a child takes over. */
let reviving: SharedState | undefined;

/** How `Value` and `SharedArray` reach the numbers of their base. */
let cellsIn: (shared: SynchronizedBase) => Cells;

const INDEX = /^-?(?:0|[1-9][0-9]*)$/;

/**
 * Wraps an array so that `arr[i]` reads and writes element `i` as
 * `arr.get(i)` and `arr.set(i, v)` do: atomically, negative counting from
 * the end, and out of range a `RangeError` (Python's `IndexError`) rather
 * than a write that goes nowhere. Methods are bound to the array itself,
 * whose private fields a proxy does not have.
 */
function indexed<C extends TypeCode>(
  target: SharedArray<C>,
  length: number,
): SharedArray<C> {
  const bound = new Map<PropertyKey, unknown>();
  const index = (key: PropertyKey): number =>
    typeof key === "string" && INDEX.test(key) ? Number(key) : NaN;
  return new Proxy(target, {
    get(target, key) {
      const i = index(key);
      if (!Number.isNaN(i)) return target.get(i);
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      let fn = bound.get(key);
      if (fn === undefined) {
        fn = value.bind(target);
        bound.set(key, fn);
      }
      return fn;
    },
    set(target, key, value) {
      const i = index(key);
      if (Number.isNaN(i)) return Reflect.set(target, key, value, target);
      target.set(i, value);
      return true;
    },
    has(target, key) {
      const i = index(key);
      return Number.isNaN(i) ? Reflect.has(target, key) : i >= 0 && i < length;
    },
  });
}

/**
 * What {@linkcode Value} and {@linkcode SharedArray} share, as CPython's
 * `SynchronizedBase` is the base of its shared objects: numbers of one type
 * in shared memory, each read and write of one of them atomic, and the lock
 * that guards them. Make a `Value` or an `Array`; this class is only their
 * base.
 *
 * @typeParam C The type name or typecode.
 *
 * @example Either one works where a `SynchronizedBase` is expected
 * ```ts
 * import { Array, SynchronizedBase, Value } from "@mp/multiprocessing/shared";
 * import assert from "node:assert/strict";
 *
 * const shared: SynchronizedBase[] = [new Value("i", 1), new Array("d", 2)];
 * assert.deepEqual(shared.map((s) => s.type), ["i32", "f64"]);
 * ```
 */
export abstract class SynchronizedBase<C extends TypeCode = TypeCode> {
  #type: keyof SharedTypes;
  #cells: Cells;
  #lock: Lock | RLock | null;

  static {
    cellsIn = (shared) => shared.#cells;
  }

  /**
   * Makes `length` numbers in shared memory, all zero (in a child: the
   * handle to the memory it was passed).
   *
   * @param type The type name (`"i32"`) or Python typecode (`"i"`).
   * @param length How many numbers.
   * @param options `{ lock }`: `true` (an RLock, default), `false`, or a lock.
   * @throws {TypeError} For an unknown type or lock option.
   * @throws {RangeError} For a negative or fractional length.
   *
   * @example Subclasses call it
   * ```ts
   * import { Value } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Value("u8").value, 0);
   * ```
   */
  constructor(type: C, length: number, options?: SharedOptions) {
    const revived = reviving;
    reviving = undefined;
    if (revived) {
      this.#type = revived.type;
      this.#cells = cellsOf(
        revived.type,
        memoryOf(revived.buffer),
        revived.length,
      );
      this.#lock = decodeSync(revived.lock) as Lock | RLock | null;
      return;
    }
    this.#type = typeName(type);
    if (!Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(
        `The length of an ${
          kindOf(this)
        } must be a whole number from 0 up, got ${length}: pass a length, or the elements`,
      );
    }
    const size = VIEWS[this.#type].BYTES_PER_ELEMENT * length;
    // Round up to whole 8-byte words: the atomic float access reads them.
    const buffer = allocate(Math.max(8, Math.ceil(size / 8) * 8));
    this.#cells = cellsOf(this.#type, buffer, length);
    this.#lock = lockOf(options?.lock);
  }

  /**
   * The type name of the numbers, such as `"i32"` for typecode `"i"`.
   *
   * @example A typecode names its type
   * ```ts
   * import { Value } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Value("d").type, "f64");
   * ```
   */
  get type(): TypeName<C> {
    return this.#type as TypeName<C>;
  }

  /**
   * The lock that guards the numbers (Python's `get_lock()`).
   *
   * @returns The `RLock` made with them, or the lock they were given.
   * @throws {TypeError} When made with `{ lock: false }`.
   *
   * @example Hold the lock around a read-modify-write
   * ```ts
   * import { Value } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const counter = new Value("i32", 0);
   * {
   *   using _ = counter.getLock().holdSync();
   *   counter.value += 1;
   * }
   * assert.equal(counter.value, 1);
   * assert.throws(() => new Value("i", 0, { lock: false }).getLock(), TypeError);
   * ```
   */
  getLock(): Lock | RLock {
    if (this.#lock === null) {
      throw new TypeError(
        `This ${
          kindOf(this)
        } was made with { lock: false } and has no lock: pass { lock: true } (or a Lock) to get one`,
      );
    }
    return this.#lock;
  }

  /**
   * The state a child revives these numbers from.
   *
   * @ignore
   */
  [toWire](ctx: WireContext): WireForm {
    const lock = this.#lock;
    return {
      kind: kindOf(this),
      module: import.meta.url,
      state: {
        buffer: memoryForm(
          this.#cells.view.buffer,
          ctx.exporter !== undefined,
        ),
        type: this.#type,
        length: this.#cells.view.length,
        lock: lock === null ? null : encode(lock, ctx),
      } satisfies SharedState,
    };
  }
}

/**
 * One number in shared memory (Python's `multiprocessing.Value`).
 *
 * Each read and each write of {@linkcode Value.value} is atomic; a
 * read-modify-write such as `v.value += 1` is not, so hold
 * {@linkcode SynchronizedBase.getLock} around it, as in Python. `type` and
 * `getLock()` come from {@linkcode SynchronizedBase}.
 *
 * @typeParam C The type name or typecode.
 *
 * @example Floats, 64-bit integers, and a value without a lock
 * ```ts
 * import { Value } from "@mp/multiprocessing/shared";
 * import assert from "node:assert/strict";
 *
 * const v = new Value("d", 1.5);
 * v.value *= 2;
 * assert.equal(v.value, 3);
 *
 * const big = new Value("i64", 1n << 40n);
 * assert.equal(big.value, 1099511627776n);
 *
 * const raw = new Value("i", 7, { lock: false });
 * assert.throws(() => raw.getLock(), TypeError);
 * ```
 */
export class Value<C extends TypeCode = TypeCode> extends SynchronizedBase<C> {
  #cells: Cells;
  /**
   * The cell of an `i32` value (Python's `"i"`, the common case), read and
   * written here without the call through `#cells`: a fresh child runs its
   * first thousands of `v.value += 1` unoptimized, where each call costs.
   */
  #i32: Int32Array | undefined;

  /**
   * Makes a shared number.
   *
   * @param type The type name (`"i32"`) or Python typecode (`"i"`).
   * @param initial The first value (default zero).
   * @param options `{ lock }`: `true` (an RLock, default), `false`, or a lock.
   * @throws {TypeError} For an unknown type or lock option, or a `char`
   * that is not one character of code 0 to 255.
   *
   * @example A typecode, a first value, and a lock of one's own
   * ```ts
   * import { Lock } from "@mp/multiprocessing/lock";
   * import { Value } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const lock = new Lock();
   * const v = new Value("i", 42, { lock });
   * assert.equal(v.value, 42);
   * assert.equal(v.getLock(), lock);
   * ```
   */
  constructor(type: C, initial?: ElementOf<C>, options?: SharedOptions) {
    super(type, 1, options);
    this.#cells = cellsIn(this);
    this.#i32 = this.type === "i32"
      ? this.#cells.view as Int32Array
      : undefined;
    if (initial !== undefined) this.#cells.store(0, initial);
  }

  /**
   * The number, read atomically.
   *
   * @example Read and write
   * ```ts
   * import { Value } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const v = new Value("u8", 255);
   * assert.equal(v.value, 255);
   * v.value = 256; // converted as a Uint8Array converts it
   * assert.equal(v.value, 0);
   * ```
   */
  get value(): ElementOf<C> {
    const i32 = this.#i32;
    if (i32 === undefined) return this.#cells.load(0) as ElementOf<C>;
    checkRunning(); // as every read and write through the library does
    return Atomics.load(i32, 0) as ElementOf<C>;
  }

  /**
   * Writes the number atomically (converted to the type, as a typed array
   * does; a `char` must be one character of code 0 to 255, else this
   * throws a `TypeError`).
   *
   * @example A float written to an integer value
   * ```ts
   * import { Value } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const v = new Value("i32");
   * v.value = 2.9;
   * assert.equal(v.value, 2);
   * ```
   */
  set value(value: ElementOf<C>) {
    const i32 = this.#i32;
    if (i32 === undefined) {
      this.#cells.store(0, value);
      return;
    }
    checkRunning();
    Atomics.store(i32, 0, Number(value));
  }
}

/**
 * Numbers in shared memory, of one type (Python's
 * `multiprocessing.Array`; also exported as `Array`).
 *
 * `arr[i]`, {@linkcode SharedArray.get} and {@linkcode SharedArray.set}
 * read and write one element atomically; {@linkcode SharedArray.array} is
 * a typed array over the same memory, for the fastest plain access. Hold
 * {@linkcode SynchronizedBase.getLock} around anything that must see or
 * leave the elements consistent. `type` and `getLock()` come from
 * {@linkcode SynchronizedBase}.
 *
 * @typeParam C The type name or typecode.
 *
 * @example Made from a length or from values, read and written in place
 * ```ts
 * import { Array } from "@mp/multiprocessing/shared";
 * import assert from "node:assert/strict";
 *
 * const zeros = new Array("f64", 3);
 * assert.deepEqual([...zeros], [0, 0, 0]);
 *
 * const arr = new Array("i", [1, 2, 3]);
 * arr.set(0, 10);
 * arr.array[1] *= 10; // an Int32Array over the shared memory
 * arr[2] = 30; // or index the Array itself, as in Python
 * assert.equal(arr.length, 3);
 * assert.equal(arr[2], 30);
 * assert.deepEqual(arr.toArray(), [10, 20, 30]);
 * ```
 */
export class SharedArray<C extends TypeCode = TypeCode>
  extends SynchronizedBase<C>
  implements Iterable<ElementOf<C>> {
  /**
   * An element, read or written atomically: `arr[0] = 1` as in Python
   * (`arr[-1]` is the last; out of range is a `RangeError`).
   */
  [index: number]: ElementOf<C>;
  #cells: Cells;

  /**
   * Makes a shared array.
   *
   * @param type The type name (`"f64"`) or Python typecode (`"d"`).
   * @param sizeOrInitializer The length (elements start at zero), or the
   * elements.
   * @param options `{ lock }`: `true` (an RLock, default), `false`, or a lock.
   * @throws {TypeError} For an unknown type or lock option, or a `char`
   * that is not one character of code 0 to 255.
   * @throws {RangeError} For a negative or fractional length.
   *
   * @example From a length, and from values
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * assert.deepEqual(new SharedArray("u8", 2).toArray(), [0, 0]);
   * assert.deepEqual(new SharedArray("i64", [1n, 2n]).toArray(), [1n, 2n]);
   * ```
   */
  constructor(
    type: C,
    sizeOrInitializer: number | Iterable<ElementOf<C>>,
    options?: SharedOptions,
  ) {
    const items = typeof sizeOrInitializer === "number"
      ? undefined
      : globalThis.Array.from(sizeOrInitializer);
    super(type, items?.length ?? (sizeOrInitializer as number), options);
    const cells = this.#cells = cellsIn(this);
    items?.forEach((item, i) => cells.store(i, item));
    return indexed(this, cells.view.length);
  }

  /**
   * The number of elements.
   *
   * @example Three elements
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new SharedArray("i", [7, 8, 9]).length, 3);
   * ```
   */
  get length(): number {
    return this.#cells.view.length;
  }

  /**
   * A typed array over the shared memory (`Float64Array` for `"f64"`, ...):
   * reads and writes through it are plain, fast, and seen by every process.
   *
   * @example A Float32Array over the same memory
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const arr = new SharedArray("f32", 4);
   * arr.array.fill(0.5);
   * assert.equal(arr.array instanceof Float32Array, true);
   * assert.equal(arr.get(3), 0.5);
   * ```
   */
  get array(): ViewOf<C> {
    return this.#cells.view as ViewOf<C>;
  }

  /**
   * Reads one element atomically.
   *
   * @param index The element's index; negative counts from the end.
   * @returns The element.
   * @throws {RangeError} When `index` is out of range.
   *
   * @example From the start or from the end
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const arr = new SharedArray("i", [1, 2, 3]);
   * assert.equal(arr.get(0), 1);
   * assert.equal(arr.get(-1), 3);
   * assert.throws(() => arr.get(3), RangeError);
   * ```
   */
  get(index: number): ElementOf<C> {
    return this.#cells.load(this.#index(index)) as ElementOf<C>;
  }

  /**
   * Writes one element atomically.
   *
   * @param index The element's index; negative counts from the end.
   * @param value The new element.
   * @throws {RangeError} When `index` is out of range.
   *
   * @example Write from the end
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const arr = new SharedArray("d", 2);
   * arr.set(-1, 2.5);
   * assert.deepEqual(arr.toArray(), [0, 2.5]);
   * ```
   */
  set(index: number, value: ElementOf<C>): void {
    this.#cells.store(this.#index(index), value);
  }

  #index(index: number): number {
    const length = this.length;
    const i = index < 0 ? index + length : index;
    if (!Number.isInteger(i) || i < 0 || i >= length) {
      throw new RangeError(
        `Index ${index} is out of range for an Array of length ${length}: use an index from ${-length} to ${
          length - 1
        }`,
      );
    }
    return i;
  }

  /**
   * Copies the elements into a plain array (Python's `arr[:]`).
   *
   * @returns The elements.
   *
   * @example A plain copy
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * const copy = new SharedArray("i", [1, 2]).toArray();
   * assert.deepEqual(copy, [1, 2]);
   * ```
   */
  toArray(): ElementOf<C>[] {
    return globalThis.Array.from(this);
  }

  /**
   * The elements, each read atomically.
   *
   * @returns An iterator over the elements.
   *
   * @example Iterate with for...of
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/shared";
   * import assert from "node:assert/strict";
   *
   * let sum = 0;
   * for (const x of new SharedArray("i", [1, 2, 3])) sum += x;
   * assert.equal(sum, 6);
   * ```
   */
  *[Symbol.iterator](): IterableIterator<ElementOf<C>> {
    for (let i = 0; i < this.length; i++) {
      yield this.#cells.load(i) as ElementOf<C>;
    }
  }
}

/** The kind the numbers cross the wire as, and name themselves by in messages. */
function kindOf(shared: SynchronizedBase): "Value" | "Array" {
  return shared instanceof Value ? "Value" : "Array";
}

registerKind("Value", (state) => {
  reviving = state as SharedState;
  return new Value((state as SharedState).type);
});

registerKind("Array", (state) => {
  reviving = state as SharedState;
  return new SharedArray((state as SharedState).type, 0);
});

export { SharedArray as Array };
registerSegmentClass(SynchronizedBase);
