// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// Python's pickle format, for data only: what a Python `Connection` sends
// with `send()` and reads with `recv()`.
//
// The writer makes protocol 4 (the default of Python 3.8 to 3.13) from
// JavaScript data. The reader understands the opcodes CPython 3.8-3.13 write
// for data (None, booleans, ints of any size, floats, str, bytes, bytearray,
// list, tuple, dict, set, frozenset), with frames and the memo. It never
// runs code: an opcode that would import a name or call something is
// refused, except the few that rebuild a builtin exception class (as an
// `Error` carrying its Python name) or a `bytearray`, which only make data.
// So a hostile peer can send nothing but data.

/**
 * A Python `tuple`: an array that pickles as a tuple rather than a list. A
 * tuple read from a pickle is one of these (frozen). Make one with
 * {@linkcode tuple}.
 *
 * @typeParam T The type of the items.
 *
 * @example A tuple is an array
 * ```ts
 * import { Tuple, tuple } from "@mp/multiprocessing/connection";
 * import assert from "node:assert/strict";
 *
 * const pair = tuple(1, "one");
 * assert(pair instanceof Tuple && Array.isArray(pair));
 * assert.deepEqual([...pair], [1, "one"]);
 * ```
 */
export class Tuple<T = unknown> extends Array<T> {
  /** Methods such as `map` and `slice` make plain arrays. */
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

/**
 * Makes a frozen {@linkcode Tuple} of `items`: what `send` turns into a
 * Python tuple (an array becomes a list).
 *
 * @typeParam T The types of the items.
 * @param items The items.
 * @returns The tuple.
 *
 * @example A dict keyed by tuples
 * ```ts
 * import { tuple } from "@mp/multiprocessing/connection";
 * import assert from "node:assert/strict";
 *
 * const point = tuple(3, 4);
 * const names = new Map([[point, "p"]]);
 * assert.equal(names.get(point), "p");
 * assert(Object.isFrozen(point));
 * ```
 */
export function tuple<T extends unknown[]>(...items: T): Tuple<T[number]> {
  return asTuple(items);
}

/** `items`, an array nothing else holds, made a frozen {@linkcode Tuple}. */
function asTuple<T>(items: T[]): Tuple<T> {
  // Not made with `new Tuple()` and filled: that measured three times
  // faster alone, and twice slower in a manager's calls, which read them.
  return Object.freeze(Object.setPrototypeOf(items, Tuple.prototype));
}

// The opcodes, by their pickletools names.
const MARK = 0x28; // (
const STOP = 0x2e; // .
const POP = 0x30; // 0
const POP_MARK = 0x31; // 1
const DUP = 0x32; // 2
const BINBYTES = 0x42; // B
const SHORT_BINBYTES = 0x43; // C
const BINFLOAT = 0x47; // G
const BININT = 0x4a; // J
const BININT1 = 0x4b; // K
const BININT2 = 0x4d; // M
const NONE = 0x4e; // N
const REDUCE = 0x52; // R
const BINUNICODE = 0x58; // X
const EMPTY_LIST = 0x5d; // ]
const APPEND = 0x61; // a
const BUILD = 0x62; // b
const DICT = 0x64; // d
const APPENDS = 0x65; // e
const BINGET = 0x68; // h
const LONG_BINGET = 0x6a; // j
const LIST = 0x6c; // l
const BINPUT = 0x71; // q
const LONG_BINPUT = 0x72; // r
const SETITEM = 0x73; // s
const TUPLE = 0x74; // t
const SETITEMS = 0x75; // u
const EMPTY_DICT = 0x7d; // }
const EMPTY_TUPLE = 0x29; // )
const PROTO = 0x80;
const TUPLE1 = 0x85;
const TUPLE2 = 0x86;
const TUPLE3 = 0x87;
const NEWTRUE = 0x88;
const NEWFALSE = 0x89;
const LONG1 = 0x8a;
const LONG4 = 0x8b;
const SHORT_BINUNICODE = 0x8c;
const BINUNICODE8 = 0x8d;
const BINBYTES8 = 0x8e;
const EMPTY_SET = 0x8f;
const ADDITEMS = 0x90;
const FROZENSET = 0x91;
const STACK_GLOBAL = 0x93;
const MEMOIZE = 0x94;
const FRAME = 0x95;
const BYTEARRAY8 = 0x96;
const GLOBAL = 0x63; // c
const NEWOBJ = 0x81;

/** Opcodes that run code or need objects beyond data, by name, to say so. */
const REFUSED: Record<number, string> = {
  0x69: "INST",
  0x6f: "OBJ",
  0x92: "NEWOBJ_EX",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/** The builtin exception classes a pickle may name: they only make data. */
const EXCEPTIONS = new Set([
  "BaseException",
  "Exception",
  "ArithmeticError",
  "AssertionError",
  "AttributeError",
  "BlockingIOError",
  "BrokenPipeError",
  "BufferError",
  "ChildProcessError",
  "ConnectionAbortedError",
  "ConnectionError",
  "ConnectionRefusedError",
  "ConnectionResetError",
  "EOFError",
  "FileExistsError",
  "FileNotFoundError",
  "FloatingPointError",
  "ImportError",
  "IndexError",
  "InterruptedError",
  "IsADirectoryError",
  "KeyError",
  "KeyboardInterrupt",
  "LookupError",
  "MemoryError",
  "ModuleNotFoundError",
  "NameError",
  "NotADirectoryError",
  "NotImplementedError",
  "OSError",
  "OverflowError",
  "PermissionError",
  "ProcessLookupError",
  "RecursionError",
  "ReferenceError",
  "RuntimeError",
  "StopIteration",
  "SyntaxError",
  "SystemError",
  "TimeoutError",
  "TypeError",
  "UnboundLocalError",
  "UnicodeDecodeError",
  "UnicodeEncodeError",
  "UnicodeError",
  "ValueError",
  "ZeroDivisionError",
]);

/** A class a pickle named with (STACK_)GLOBAL and the reader allows. */
class Named {
  constructor(
    readonly name: string,
    /** What it may do: be called (a builtin), or make a manager proxy. */
    readonly role: "builtin" | "Token" | "RebuildProxy" | "proxy class" =
      "builtin",
    readonly module = "builtins",
  ) {}
}

/** The module of Python's manager classes. */
const MANAGERS = "multiprocessing.managers";

/**
 * Python's `multiprocessing.managers.Token`: which object of which manager
 * server a proxy stands for. Data only: reading one connects to nothing.
 */
export class Token {
  /**
   * @param typeid The type's name on the server.
   * @param address The server's address as Python writes it: a path, or a
   * `(host, port)` tuple.
   * @param id The object's id on the server.
   */
  constructor(
    public typeid: string,
    public address: unknown,
    public id: string,
  ) {}
}

/**
 * A pickled manager proxy: Python's `RebuildProxy(proxyType, token,
 * serializer, kwds)`. The reader makes one of these, inert, for the manager
 * layer to turn into a handle; the writer writes one back the same way, so
 * that a Python peer rebuilds its own proxy.
 */
export class ProxyRef {
  /**
   * @param proxyType The proxy class, `module.name` (`multiprocessing.managers.DictProxy`).
   * @param token The object it stands for.
   * @param kwds Its keyword arguments (`exposed`, ...).
   */
  constructor(
    public proxyType: string,
    public token: Token,
    public kwds: Record<string, unknown> = {},
  ) {}
}

/**
 * The method by which an object of the caller's (a manager handle) says how
 * it pickles: it returns the {@linkcode ProxyRef} to write in its place.
 */
export const asProxyRef: unique symbol = Symbol("mp.asProxyRef");

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------- writing

const encoder = new TextEncoder();

/** A growing byte buffer. */
class Output {
  bytes = new Uint8Array(256);
  view = new DataView(this.bytes.buffer);
  length = 0;

  reserve(n: number): number {
    const at = this.length;
    if (at + n > this.bytes.length) {
      let size = this.bytes.length * 2;
      while (size < at + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length = at + n;
    return at;
  }
  byte(b: number): void {
    // Reserve first: `this.bytes[this.reserve(1)]` would read the old
    // buffer before reserve() grows it, and the byte would be lost.
    const at = this.reserve(1);
    this.bytes[at] = b;
  }
  u32(op: number, n: number): void {
    const at = this.reserve(5);
    this.bytes[at] = op;
    this.view.setUint32(at + 1, n, true);
  }
  u64(op: number, n: number): void {
    const at = this.reserve(9);
    this.bytes[at] = op;
    this.view.setBigUint64(at + 1, BigInt(n), true);
  }
  raw(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length);
    this.bytes.set(bytes, at);
  }
}

/** Writes `length` after the opcode of the size it needs. */
function sized(
  out: Output,
  length: number,
  ops: [short: number, long: number, huge: number],
): void {
  if (length < 256 && ops[0] >= 0) {
    out.byte(ops[0]);
    out.byte(length);
  } else if (length < 2 ** 32) out.u32(ops[1], length);
  else out.u64(ops[2], length);
}

/** The little-endian two's complement bytes of `n`, as short as can be. */
function longBytes(n: bigint): Uint8Array {
  if (n === 0n) return new Uint8Array(0);
  const bytes: number[] = [];
  let rest = n;
  for (;;) {
    const byte = Number(rest & 0xffn);
    bytes.push(byte);
    rest >>= 8n;
    // Done when what is left is all sign, and the last byte's top bit says so.
    if ((rest === 0n && byte < 0x80) || (rest === -1n && byte >= 0x80)) break;
  }
  return Uint8Array.from(bytes);
}

function writeInt(out: Output, n: number | bigint): void {
  if (typeof n === "number" && n >= -(2 ** 31) && n < 2 ** 31) {
    if (n >= 0 && n < 256) {
      out.byte(BININT1);
      out.byte(n);
    } else if (n >= 0 && n < 65536) {
      out.byte(BININT2);
      out.byte(n & 0xff);
      out.byte(n >> 8);
    } else {
      const at = out.reserve(5);
      out.bytes[at] = BININT;
      out.view.setInt32(at + 1, n, true);
    }
    return;
  }
  const bytes = longBytes(BigInt(n));
  if (bytes.length < 256) {
    out.byte(LONG1);
    out.byte(bytes.length);
  } else out.u32(LONG4, bytes.length);
  out.raw(bytes);
}

function writeString(out: Output, s: string): void {
  // Short ASCII (most keys and method names) is copied as it is: the
  // encoder costs more than the string.
  if (s.length < 64) {
    const at = out.reserve(2 + s.length);
    const bytes = out.bytes;
    let i = 0;
    for (; i < s.length; i++) {
      const code = s.charCodeAt(i);
      if (code >= 0x80) break;
      bytes[at + 2 + i] = code;
    }
    if (i === s.length) {
      bytes[at] = SHORT_BINUNICODE;
      bytes[at + 1] = s.length;
      return;
    }
    out.length = at; // Not ASCII: taken back, and encoded.
  }
  const bytes = encoder.encode(s);
  sized(out, bytes.length, [SHORT_BINUNICODE, BINUNICODE, BINUNICODE8]);
  out.raw(bytes);
}

function writeBytes(out: Output, bytes: Uint8Array): void {
  sized(out, bytes.length, [SHORT_BINBYTES, BINBYTES, BINBYTES8]);
  out.raw(bytes);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Writes items between MARK and `op`, or nothing when there are none. */
function writeBatch(
  out: Output,
  items: Iterable<unknown>,
  op: number,
  write: (item: unknown) => void,
): void {
  let marked = false;
  for (const item of items) {
    if (!marked) out.byte(MARK);
    marked = true;
    write(item);
  }
  if (marked) out.byte(op);
}

function describe(value: unknown): string {
  if (typeof value === "object" && value !== null) {
    return `a ${value.constructor?.name ?? "null-prototype object"}`;
  }
  return `a ${typeof value}`;
}

/**
 * Pickles `value` (protocol 4): `null`/`undefined` as None, booleans, whole
 * numbers that are safe integers and `bigint`s as int, other numbers as
 * float, strings, `Uint8Array`/`ArrayBuffer` as bytes, arrays as list,
 * {@linkcode Tuple}s as tuple, plain objects and `Map`s as dict, `Set`s as
 * set, and an `Error` as a builtin exception of its name (`queue.Empty` and
 * `queue.Full` for `Empty` and `Full`; `Exception` when Python has no such
 * builtin).
 *
 * `headroom` bytes are left (zero) before the pickle.
 *
 * @throws {TypeError} For any other value, and for a value that contains
 * itself.
 */
export function dumps(value: unknown, headroom = 0): Uint8Array {
  // One buffer for every pickle (dumps runs to its end before another
  // starts); the result is a copy of its exact size.
  const out = scratch;
  out.length = 0;
  // Room before the pickle for a frame's length, so it is not copied again.
  out.bytes.fill(0, 0, out.reserve(headroom) + headroom);
  out.byte(PROTO);
  out.byte(4);
  const open = new Set<object>();
  const write = (value: unknown): void => {
    switch (typeof value) {
      case "undefined":
        out.byte(NONE);
        return;
      case "boolean":
        out.byte(value ? NEWTRUE : NEWFALSE);
        return;
      case "bigint":
        writeInt(out, value);
        return;
      case "number":
        if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
          writeInt(out, value);
        } else {
          const at = out.reserve(9);
          out.bytes[at] = BINFLOAT;
          out.view.setFloat64(at + 1, value);
        }
        return;
      case "string":
        writeString(out, value);
        return;
      case "object":
        break;
      default:
        throw new TypeError(
          `Cannot pickle ${
            describe(value)
          }: send data (null, booleans, numbers, bigints, strings, Uint8Array, arrays, tuple(), plain objects, Map, Set)`,
        );
    }
    if (value === null) {
      out.byte(NONE);
      return;
    }
    if (value instanceof Uint8Array) return writeBytes(out, value);
    if (value instanceof ArrayBuffer) {
      return writeBytes(out, new Uint8Array(value));
    }
    if (open.has(value)) {
      throw new TypeError(
        'Cannot pickle a value that contains itself: send it without the cycle, or use the structured-clone format ({ serializer: "structured-clone" }) between Deno programs',
      );
    }
    open.add(value);
    if (value instanceof Tuple) writeTuple(value);
    else if (Array.isArray(value)) {
      out.byte(EMPTY_LIST);
      writeBatch(out, value, APPENDS, write);
    } else if (value instanceof Map) {
      out.byte(EMPTY_DICT);
      writeBatch(out, value, SETITEMS, (entry) => {
        write((entry as [unknown, unknown])[0]);
        write((entry as [unknown, unknown])[1]);
      });
    } else if (value instanceof Set) {
      out.byte(EMPTY_SET);
      writeBatch(out, value, ADDITEMS, write);
    } else if (value instanceof Error) writeError(value);
    else if (value instanceof ProxyRef) writeProxy(value);
    else if (value instanceof Token) writeToken(value);
    else if (
      typeof (value as { [asProxyRef]?: unknown })[asProxyRef] === "function"
    ) {
      writeProxy((value as { [asProxyRef](): ProxyRef })[asProxyRef]());
    } else if (isPlainObject(value)) {
      out.byte(EMPTY_DICT);
      writeBatch(out, Object.entries(value), SETITEMS, (entry) => {
        writeString(out, (entry as [string, unknown])[0]);
        write((entry as [string, unknown])[1]);
      });
    } else {
      throw new TypeError(
        `Cannot pickle ${
          describe(value)
        }: send data (null, booleans, numbers, bigints, strings, Uint8Array, arrays, tuple(), plain objects, Map, Set), or use the structured-clone format between Deno programs`,
      );
    }
    open.delete(value);
  };
  const writeTuple = (items: readonly unknown[]): void => {
    if (items.length === 0) return out.byte(EMPTY_TUPLE);
    if (items.length > 3) out.byte(MARK);
    for (const item of items) write(item);
    out.byte(
      items.length > 3 ? TUPLE : [TUPLE1, TUPLE2, TUPLE3][items.length - 1],
    );
  };
  const writeError = (error: Error): void => {
    const queued = error.name === "Empty" || error.name === "Full";
    const known = queued || EXCEPTIONS.has(error.name);
    writeString(out, queued ? "queue" : "builtins");
    writeString(out, known ? error.name : "Exception");
    out.byte(STACK_GLOBAL);
    writeTuple([known ? error.message : `${error.name}: ${error.message}`]);
    out.byte(REDUCE);
  };
  const writeGlobal = (qualified: string): void => {
    const dot = qualified.lastIndexOf(".");
    writeString(out, qualified.slice(0, dot));
    writeString(out, qualified.slice(dot + 1));
    out.byte(STACK_GLOBAL);
  };
  const writeToken = ({ typeid, address, id }: Token): void => {
    writeGlobal(`${MANAGERS}.Token`);
    out.byte(EMPTY_TUPLE);
    out.byte(NEWOBJ);
    writeTuple([typeid, address, id]);
    out.byte(BUILD);
  };
  const writeProxy = ({ proxyType, token, kwds }: ProxyRef): void => {
    // RebuildProxy(proxyType, token, "pickle", kwds), with the token as
    // Python writes it: Token.__new__(Token), then its state.
    writeGlobal(`${MANAGERS}.RebuildProxy`);
    out.byte(MARK);
    writeGlobal(proxyType);
    writeToken(token);
    writeString(out, "pickle");
    write(kwds);
    out.byte(TUPLE);
    out.byte(REDUCE);
  };
  write(value);
  out.byte(STOP);
  const pickle = out.bytes.slice(0, out.length);
  if (out.bytes.length > SCRATCH_KEPT) scratch = new Output();
  return pickle;
}

/** The buffer dumps() writes in; a larger one than this is not kept. */
const SCRATCH_KEPT = 1 << 20;
let scratch = new Output();

// ---------------------------------------------------------------- reading

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Sets `key` on a dict object, even `__proto__`, as an own property. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown) {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else target[key] = value;
}

/**
 * A dict being read: its entries, made into a plain object (all keys
 * strings) or a `Map` (any other key) once the pickle is read.
 */
class Dict {
  entries: [unknown, unknown][] = [];
}

function fail(message: string): never {
  throw new TypeError(`Cannot unpickle the message: ${message}`);
}

function pythonMessage(args: unknown[]): string {
  if (args.length === 0) return "";
  if (args.length === 1) return String(args[0]);
  return `(${
    args.map((a) => typeof a === "string" ? `'${a}'` : String(a)).join(", ")
  })`;
}

/**
 * Reads a pickle made by Python (protocols 2 to 5) or by {@linkcode dumps}:
 * None as `null`, int as `number` when it is a safe integer and `bigint`
 * otherwise, float as `number`, str, bytes and bytearray as `Uint8Array`,
 * list as array, tuple as {@linkcode Tuple}, dict as a plain object when
 * every key is a string and a `Map` otherwise, set and frozenset as `Set`,
 * and a builtin exception as an `Error` whose `name` is its Python class.
 *
 * @throws {TypeError} When the bytes are not such a pickle, or it would
 * import or call anything else.
 */
export function loads(input: Uint8Array): unknown {
  // A plain view, so that slice() copies even when `input` is a Buffer.
  const bytes = new Uint8Array(
    input.buffer,
    input.byteOffset,
    input.byteLength,
  );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  /**
   * Whether `resolve` has work: a dict, a proxy or an exception was read,
   * or a value was used twice (a cycle is possible). Most small messages
   * have none, and skip it.
   */
  let resolving = false;

  // Each opcode reads a few bytes: they are read in place, and only a
  // string's or bytes' payload is viewed (a view per byte cost more than
  // the rest of a small message's reading, garbage collection most).
  /** Moves past `n` bytes, which must be there. */
  const skip = (n: number): void => {
    if (n > bytes.length - at) {
      fail(`it ends in the middle (${n} bytes wanted at offset ${at})`);
    }
    at += n;
  };
  const take = (n: number): Uint8Array => {
    skip(n);
    return bytes.subarray(at - n, at);
  };
  const u8 = (): number => {
    skip(1);
    return bytes[at - 1];
  };
  const u32 = (): number => {
    skip(4);
    return view.getUint32(at - 4, true);
  };
  const u64 = (): number => {
    skip(8);
    const n = view.getBigUint64(at - 8, true);
    if (n > BigInt(bytes.length)) fail(`a length of ${n} bytes is too long`);
    return Number(n);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("it pops more than it pushed");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("it uses a value it never pushed");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const outer = marks.pop();
    if (!outer) fail("it closes a MARK it never opened");
    stack = outer;
    return items;
  };
  /** The next `n` bytes, as UTF-8. */
  const text = (n: number): string => {
    skip(n);
    // Short ASCII is read as it is: the decoder costs more than the string.
    if (n < 64) {
      let ascii = "";
      for (let i = at - n; i < at; i++) {
        const code = bytes[i];
        if (code >= 0x80) break;
        ascii += String.fromCharCode(code);
      }
      if (ascii.length === n) return ascii;
    }
    try {
      return decoder.decode(bytes.subarray(at - n, at));
    } catch {
      return fail("a string is not valid UTF-8");
    }
  };
  const long = (part: Uint8Array): number | bigint => {
    let n = 0n;
    for (let i = part.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(part[i]);
    if (part.length > 0 && part[part.length - 1] >= 0x80) {
      n -= 1n << BigInt(part.length * 8);
    }
    return n >= SAFE_MIN && n <= SAFE_MAX ? Number(n) : n;
  };
  const list = (target: unknown, op: string): unknown[] => {
    if (!Array.isArray(target) || target instanceof Tuple) {
      fail(`${op} on something that is not a list`);
    }
    return target;
  };
  const dict = (target: unknown, op: string): Dict => {
    if (!(target instanceof Dict)) {
      fail(`${op} on something that is not a dict`);
    }
    return target;
  };
  const set = (target: unknown, op: string): Set<unknown> => {
    if (!(target instanceof Set)) fail(`${op} on something that is not a set`);
    return target;
  };
  const addEntries = (target: Dict, items: unknown[]): void => {
    if (items.length % 2) fail("a dict has a key without a value");
    for (let i = 0; i < items.length; i += 2) {
      target.entries.push([items[i], items[i + 1]]);
    }
  };
  const global = (module: string, name: string): Named => {
    // Protocols 0 to 2 name the builtins as Python 2 did.
    const builtin = module === "builtins" || module === "__builtin__" ||
      module === "exceptions";
    if (builtin && (EXCEPTIONS.has(name) || BUILDERS.has(name))) {
      return new Named(name);
    }
    if (module === "_codecs" && name === "encode") return new Named(name);
    // A manager proxy: RebuildProxy(ProxyClass, Token, ...), read as data.
    if (
      module === MANAGERS && (name === "Token" || name === "RebuildProxy")
    ) return new Named(name, name, module);
    if (/^[A-Za-z_]\w*Proxy$/.test(name)) {
      return new Named(name, "proxy class", module);
    }
    // queue.Empty and queue.Full, which a manager's queue raises.
    if (
      (module === "_queue" && name === "Empty") ||
      (module === "queue" && (name === "Empty" || name === "Full"))
    ) return new Named(name);
    fail(
      `it names ${module}.${name}, and only data and builtin exceptions are accepted (a pickle that imports or calls anything is refused, so a peer cannot run code here)`,
    );
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case PROTO:
        if (u8() > 5) fail("its protocol is newer than 5");
        break;
      case FRAME:
        skip(8); // The frame's length: the opcodes follow in place.
        break;
      case STOP: {
        if (stack.length !== 1 || marks.length) {
          fail("it stops with a stack that is not one value");
        }
        return resolving ? resolve(stack[0]) : stack[0];
      }
      case MARK:
        marks.push(stack);
        stack = [];
        break;
      case POP:
        pop();
        break;
      case POP_MARK:
        popMark();
        break;
      case DUP:
        stack.push(top());
        break;
      case NONE:
        stack.push(null);
        break;
      case NEWTRUE:
        stack.push(true);
        break;
      case NEWFALSE:
        stack.push(false);
        break;
      case BININT:
        skip(4);
        stack.push(view.getInt32(at - 4, true));
        break;
      case BININT1:
        stack.push(u8());
        break;
      case BININT2:
        skip(2);
        stack.push(view.getUint16(at - 2, true));
        break;
      case LONG1:
        stack.push(long(take(u8())));
        break;
      case LONG4: {
        skip(4);
        const n = view.getInt32(at - 4, true);
        if (n < 0) fail("a LONG4 has a negative length");
        stack.push(long(take(n)));
        break;
      }
      case BINFLOAT:
        skip(8);
        stack.push(view.getFloat64(at - 8));
        break;
      case SHORT_BINUNICODE:
        stack.push(text(u8()));
        break;
      case BINUNICODE:
        stack.push(text(u32()));
        break;
      case BINUNICODE8:
        stack.push(text(u64()));
        break;
      case SHORT_BINBYTES:
        stack.push(take(u8()).slice());
        break;
      case BINBYTES:
        stack.push(take(u32()).slice());
        break;
      case BINBYTES8:
      case BYTEARRAY8:
        stack.push(take(u64()).slice());
        break;
      case EMPTY_LIST:
        stack.push([]);
        break;
      case LIST: {
        const items = popMark();
        stack.push(items);
        break;
      }
      case APPEND: {
        const item = pop();
        list(top(), "APPEND").push(item);
        break;
      }
      case APPENDS: {
        const items = popMark();
        list(top(), "APPENDS").push(...items);
        break;
      }
      case EMPTY_DICT:
        resolving = true;
        stack.push(new Dict());
        break;
      case DICT: {
        resolving = true;
        const made = new Dict();
        addEntries(made, popMark());
        stack.push(made);
        break;
      }
      case SETITEM: {
        const value = pop();
        const key = pop();
        dict(top(), "SETITEM").entries.push([key, value]);
        break;
      }
      case SETITEMS: {
        const items = popMark();
        addEntries(dict(top(), "SETITEMS"), items);
        break;
      }
      case EMPTY_SET:
        stack.push(new Set());
        break;
      case ADDITEMS: {
        const items = popMark();
        const target = set(top(), "ADDITEMS");
        for (const item of items) target.add(item);
        break;
      }
      case FROZENSET: {
        const items = popMark();
        stack.push(new Set(items));
        break;
      }
      case EMPTY_TUPLE:
        stack.push(tuple());
        break;
      case TUPLE: {
        const items = popMark();
        stack.push(asTuple(items));
        break;
      }
      case TUPLE1:
      case TUPLE2:
      case TUPLE3: {
        const n = op - TUPLE1 + 1;
        if (stack.length < n) fail("a tuple has fewer items than it says");
        stack.push(asTuple(stack.splice(stack.length - n, n)));
        break;
      }
      case MEMOIZE:
        memo.set(memo.size, top());
        break;
      case BINPUT:
        memo.set(u8(), top());
        break;
      case LONG_BINPUT:
        memo.set(u32(), top());
        break;
      case BINGET:
      case LONG_BINGET: {
        const index = op === BINGET ? u8() : u32();
        if (!memo.has(index)) fail(`it gets memo ${index}, never put`);
        resolving = true;
        stack.push(memo.get(index));
        break;
      }
      case GLOBAL: {
        const line = (): string => {
          const end = bytes.indexOf(0x0a, at);
          if (end < 0 || end - at > 256) fail("a GLOBAL name has no end");
          return text(end - at + 1).slice(0, -1);
        };
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("STACK_GLOBAL on something that is not two strings");
        }
        stack.push(global(module, name));
        break;
      }
      case REDUCE: {
        resolving = true;
        const args = pop();
        const callable = pop();
        if (
          !(callable instanceof Named) || !(args instanceof Tuple) ||
          (callable.role !== "builtin" && callable.role !== "RebuildProxy")
        ) {
          fail("it calls something that is not a builtin exception class");
        }
        stack.push(
          callable.role === "RebuildProxy"
            ? proxyRef(args)
            : build(callable.name, args),
        );
        break;
      }
      case NEWOBJ: {
        resolving = true;
        // Token.__new__(Token): filled in by the BUILD that follows.
        const args = pop();
        const cls = pop();
        if (
          !(cls instanceof Named) || cls.role !== "Token" ||
          !(args instanceof Tuple) || args.length
        ) fail("it uses NEWOBJ on something that is not a manager's Token");
        stack.push(new Token("", null, ""));
        break;
      }
      case BUILD: {
        // An exception's own attributes (`__notes__`, ...): kept as data.
        const state = pop();
        const target = top();
        if (target instanceof Token) {
          if (!(state instanceof Tuple) || state.length !== 3) {
            fail("a Token's state is not (typeid, address, id)");
          }
          const [typeid, address, id] = state;
          if (typeof typeid !== "string" || typeof id !== "string") {
            fail("a Token's typeid or id is not a string");
          }
          Object.assign(target, { typeid, address, id });
          break;
        }
        if (!(target instanceof Error)) {
          fail("BUILD on something that is not a builtin exception");
        }
        Object.defineProperty(target, "pythonState", {
          value: state,
          enumerable: false,
          configurable: true,
          writable: true,
        });
        break;
      }
      default: {
        const name = REFUSED[op];
        fail(
          name
            ? `it uses ${name}, which would import or call code or need out-of-band data; only data is accepted`
            : `unknown opcode 0x${op.toString(16).padStart(2, "0")} at offset ${
              at - 1
            } (is it a pickle?)`,
        );
      }
    }
  }
}

/** The proxy of `RebuildProxy(proxyType, token, serializer, kwds)`. */
function proxyRef(args: unknown[]): ProxyRef {
  const [proxyType, token, _serializer, kwds] = args;
  if (
    !(proxyType instanceof Named) || proxyType.role !== "proxy class" ||
    !(token instanceof Token) || !(kwds instanceof Dict)
  ) fail("RebuildProxy of something that is not a proxy class and a Token");
  return new ProxyRef(
    `${proxyType.module}.${proxyType.name}`,
    token,
    kwds as unknown as Record<string, unknown>,
  );
}

/**
 * The builtins besides exceptions a pickle may call: older protocols make a
 * set, a frozenset and a bytearray (and, in protocol 2, bytes, with
 * `_codecs.encode`) by calling them.
 */
const BUILDERS = new Set(["bytearray", "set", "frozenset"]);

/** A value of a builtin, from its name and arguments. */
function build(name: string, args: unknown[]): unknown {
  const [source, encoding] = args;
  switch (name) {
    case "bytearray":
      if (args.length === 0) return new Uint8Array(0);
      if (source instanceof Uint8Array) return source;
      if (typeof source === "string" && encoding === "latin-1") {
        return latin1(source);
      }
      return fail("bytearray of something that is not bytes");
    case "set":
    case "frozenset":
      if (args.length === 0) return new Set();
      if (Array.isArray(source)) return new Set(source);
      return fail(`${name} of something that is not a list`);
    case "encode":
      if (typeof source === "string" && encoding === "latin1") {
        return latin1(source);
      }
      return fail("_codecs.encode of something that is not a latin1 string");
  }
  const error = new Error(pythonMessage(args));
  error.name = name;
  Object.defineProperty(error, "args", {
    value: args,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return error;
}

/** The bytes of a string of code points below 256. */
function latin1(s: string): Uint8Array {
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code > 255) fail("a latin1 string has a code point above 255");
    bytes[i] = code;
  }
  return bytes;
}

/**
 * Turns the dicts read (kept as entry lists until the end, since a key's
 * kind is known only then) into objects or Maps, everywhere in the value.
 * Lists and sets are changed in place, so a list that contains itself
 * stays so; a dict or tuple that contains itself is refused.
 */
function resolve(root: unknown): unknown {
  if (typeof root !== "object" || root === null) return root;
  const done = new Map<unknown, unknown>();
  const open = new Set<unknown>();
  const visit = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null) return value;
    if (value instanceof Uint8Array || value instanceof Named) return value;
    if (done.has(value)) return done.get(value);
    if (open.has(value)) {
      if (value instanceof Dict || value instanceof Tuple) {
        fail("a dict or tuple contains itself");
      }
      return value;
    }
    open.add(value);
    let made: unknown = value;
    if (value instanceof Dict) {
      made = dictOf(value.entries.map(([k, v]) => [visit(k), visit(v)]));
    } else if (value instanceof Tuple) made = tuple(...value.map(visit));
    else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = visit(value[i]);
    } else if (value instanceof Set) {
      const items = [...value].map(visit);
      value.clear();
      for (const item of items) value.add(item);
    } else if (value instanceof ProxyRef) {
      value.token = visit(value.token) as Token;
      value.kwds = visit(value.kwds) as Record<string, unknown>;
    } else if (value instanceof Token) {
      value.address = visit(value.address);
    } else if (value instanceof Error) {
      const error = value as Error & { args: unknown[]; pythonState?: unknown };
      error.args = error.args.map(visit);
      if (error.pythonState !== undefined) {
        error.pythonState = visit(error.pythonState);
      }
    }
    open.delete(value);
    done.set(value, made);
    return made;
  };
  return visit(root);
}

/** A plain object when every key is a string, else a Map. */
function dictOf(entries: [unknown, unknown][]): unknown {
  if (!entries.every(([key]) => typeof key === "string")) {
    return new Map(entries);
  }
  const object: Record<string, unknown> = {};
  for (const [key, item] of entries) setOwn(object, key as string, item);
  return object;
}
