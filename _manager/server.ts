// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// A manager's server: the objects it holds, and CPython's manager protocol
// over a Listener, so that the proxies of this library and Python's own
// (`BaseManager(address, authkey).connect()`, `DictProxy`, ...) can use them.
//
// A request is a pickled `(id, method, args, kwargs)`; the answer is
// `("#RETURN", result)`, `("#ERROR", exception)` or `("#TRACEBACK", text)`.
// A connection's first request names a server function (`create`,
// `accept_connection`, `incref`, `decref`, `dummy`, ...); after
// `accept_connection` the connection stays open for calls on objects.
import {
  type Address,
  type Listener,
  type SocketConnection,
  Tuple,
  tuple,
} from "../connection.ts";
import { ProxyRef, Token } from "../_pickle/pickle.ts";
import { type DoorForm, LocalServer } from "./local.ts";

type Kwargs = Record<string, unknown>;

/** A shared object: a method table and its exposed names. */
export interface Held {
  methods: Record<string, (...args: unknown[]) => unknown>;
  /** `#GETVALUE`: a copy of the whole object. */
  value(): unknown;
  /** Methods whose result is served as a new object of that typeid. */
  methodToTypeid?: Record<string, string>;
  /** Its `str()` and `repr()`, when not that of its value. */
  repr?(): string;
}

/** Python's repr of simple data. */
function pyRepr(value: unknown): string {
  if (typeof value === "string") return `'${value.replaceAll("'", "\\'")}'`;
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (Array.isArray(value)) {
    const inner = value.map(pyRepr).join(", ");
    return value instanceof Tuple
      ? `(${inner}${value.length === 1 ? "," : ""})`
      : `[${inner}]`;
  }
  return String(value);
}

type Factory = (args: unknown[], kwargs: Record<string, unknown>) => Held;

function pyError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** A key of a dict, as a string: equal Python keys give equal strings. */
function keyOf(key: unknown): string {
  switch (typeof key) {
    case "string":
      return "s" + key;
    case "number":
    case "bigint":
      return "n" + String(key);
    case "boolean":
      return "n" + (key ? "1" : "0");
    default:
      if (key === null || key === undefined) return "N";
      if (key instanceof Tuple) return "t" + JSON.stringify(key.map(keyOf));
      if (key instanceof Uint8Array) return "b" + key.join(",");
      throw pyError("TypeError", `unhashable type: '${describe(key)}'`);
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "list";
  if (value instanceof Map) return "dict";
  if (value instanceof Set) return "set";
  return typeof value;
}

/** `iter(container)` is served as an `Iterator` object, as in CPython. */
const ITERATES = { __iter__: "Iterator" };

/** Python's `dict`. */
function makeDict(args: unknown[], kwargs: Record<string, unknown>): Held {
  const entries = new Map<string, [unknown, unknown]>();
  const update = (other: unknown) => {
    if (other instanceof Map) {
      for (const [k, v] of other) entries.set(keyOf(k), [k, v]);
    } else if (other && typeof other === "object" && !Array.isArray(other)) {
      for (const [k, v] of Object.entries(other)) entries.set(keyOf(k), [k, v]);
    } else if (Array.isArray(other)) {
      for (const pair of other) {
        const [k, v] = pair as unknown[];
        entries.set(keyOf(k), [k, v]);
      }
    }
  };
  if (args[0] !== undefined) update(args[0]);
  update(kwargs);
  const missing = (key: unknown) => pyError("KeyError", String(key));
  /** A plain dict of `all`: an object when every key is a string. */
  const dictOf = (all: [unknown, unknown][]) =>
    all.every(([k]) => typeof k === "string")
      ? Object.fromEntries(all)
      : new Map(all);
  const copy = () => dictOf([...entries.values()]);
  /** `first | second` of two dicts, as Python merges them. */
  const merged = (first: unknown, second: unknown) => {
    const both = makeDict([first], {});
    both.methods.update(second);
    return both.value();
  };
  return {
    value: copy,
    methodToTypeid: ITERATES,
    methods: {
      __iter__: () => keysWhileSized(entries),
      __getitem__(key) {
        const entry = entries.get(keyOf(key));
        if (!entry) throw missing(key);
        return entry[1];
      },
      __setitem__(key, value) {
        entries.set(keyOf(key), [key, value]);
      },
      __delitem__(key) {
        if (!entries.delete(keyOf(key))) throw missing(key);
      },
      __contains__: (key) => entries.has(keyOf(key)),
      __len__: () => entries.size,
      get(key, fallback = null) {
        const entry = entries.get(keyOf(key));
        return entry ? entry[1] : fallback;
      },
      keys: () => [...entries.values()].map(([k]) => k),
      values: () => [...entries.values()].map(([, v]) => v),
      items: () => [...entries.values()].map(([k, v]) => tuple(k, v)),
      pop(key, ...fallback) {
        const k = keyOf(key);
        const entry = entries.get(k);
        if (!entry) {
          if (fallback.length) return fallback[0];
          throw missing(key);
        }
        entries.delete(k);
        return entry[1];
      },
      popitem() {
        const last = [...entries.keys()].at(-1);
        if (last === undefined) {
          throw pyError("KeyError", "popitem(): dictionary is empty");
        }
        const [k, v] = entries.get(last)!;
        entries.delete(last);
        return tuple(k, v);
      },
      setdefault(key, fallback = null) {
        const k = keyOf(key);
        if (!entries.has(k)) entries.set(k, [key, fallback]);
        return entries.get(k)![1];
      },
      update: (other) => update(other),
      clear: () => entries.clear(),
      copy,
      __or__: (other) => merged(copy(), other),
      __ror__: (other) => merged(other, copy()),
      __ior__(other) {
        update(other);
      },
      __reversed__: () => [...entries.values()].map(([k]) => k).reverse(),
      fromkeys: (keys, value = null) =>
        dictOf([...keys as Iterable<unknown>].map((k) => [k, value])),
    },
  };
}

/**
 * The keys of a dict, as Python iterates them: a change of its size on the
 * way is a `RuntimeError`.
 */
function keysWhileSized(
  entries: Map<string, [unknown, unknown]>,
): Iterator<unknown> {
  const size = entries.size;
  const keys = entries.values();
  return {
    next() {
      if (entries.size !== size) {
        throw pyError(
          "RuntimeError",
          "dictionary changed size during iteration",
        );
      }
      const step = keys.next();
      return step.done ? step : { done: false, value: step.value[0] };
    },
  };
}

/** Python's `list`. */
function makeList(args: unknown[]): Held {
  const items: unknown[] = Array.isArray(args[0]) ? [...args[0]] : [];
  const at = (index: unknown): number => {
    if (typeof index !== "number" || !Number.isInteger(index)) {
      throw pyError("TypeError", "list indices must be integers");
    }
    const i = index < 0 ? items.length + index : index;
    if (i < 0 || i >= items.length) {
      throw pyError("IndexError", "list index out of range");
    }
    return i;
  };
  const find = (value: unknown): number =>
    items.findIndex((item) => keyOfOrSelf(item) === keyOfOrSelf(value));
  return {
    value: () => [...items],
    methodToTypeid: ITERATES,
    methods: {
      __iter__: () => items[Symbol.iterator](),
      __getitem__: (index) => items[at(index)],
      __setitem__(index, value) {
        items[at(index)] = value;
      },
      __delitem__(index) {
        items.splice(at(index), 1);
      },
      __len__: () => items.length,
      __contains__: (value) => find(value) >= 0,
      append(value) {
        items.push(value);
      },
      __add__: (other) => [...items, ...(other as unknown[])],
      __mul__: (n) => Array.from({ length: Number(n) }, () => items).flat(),
      __imul__(n) {
        const copy = [...items];
        items.length = 0;
        for (let i = 0; i < Number(n); i++) items.push(...copy);
        return null;
      },
      extend(values) {
        items.push(...(values as unknown[]));
      },
      insert(index, value) {
        const n = index as number;
        items.splice(n < 0 ? Math.max(0, items.length + n) : n, 0, value);
      },
      pop(index = -1) {
        const i = at(index);
        return items.splice(i, 1)[0];
      },
      remove(value) {
        const i = find(value);
        if (i < 0) throw pyError("ValueError", "list.remove(x): x not in list");
        items.splice(i, 1);
      },
      index(value) {
        const i = find(value);
        if (i < 0) throw pyError("ValueError", "value is not in list");
        return i;
      },
      count: (value) =>
        items.filter((item) => keyOfOrSelf(item) === keyOfOrSelf(value))
          .length,
      reverse() {
        items.reverse();
      },
      __rmul__: (n) => Array.from({ length: Number(n) }, () => items).flat(),
      __reversed__: () => [...items].reverse(),
      clear() {
        items.length = 0;
      },
      copy: () => [...items],
      sort(options) {
        // Python passes key= and reverse= by keyword: they come last.
        const { reverse = false } = (options ?? {}) as { reverse?: unknown };
        items.sort(pyCompare);
        if (reverse) items.reverse();
      },
    },
  };
}

/** Python's order of numbers, and of strings; other types do not compare. */
function pyCompare(a: unknown, b: unknown): number {
  const kinds = [typeof a, typeof b].map((t) => t === "bigint" ? "number" : t);
  if (kinds[0] !== kinds[1] || !["number", "string"].includes(kinds[0])) {
    throw pyError(
      "TypeError",
      `'<' not supported between instances of '${describe(a)}' and '${
        describe(b)
      }'`,
    );
  }
  return (a as number) < (b as number)
    ? -1
    : (a as number) > (b as number)
    ? 1
    : 0;
}

/** A comparable form of a value: its dict key, or the value itself. */
function keyOfOrSelf(value: unknown): unknown {
  try {
    return keyOf(value);
  } catch {
    return value;
  }
}

/** Python's `Namespace`: attributes. */
function makeNamespace(
  _args: unknown[],
  kwargs: Record<string, unknown>,
): Held {
  const attributes = new Map(Object.entries(kwargs));
  return {
    value: () => Object.fromEntries(attributes),
    // Python's repr: the attributes not starting with "_".
    repr: () =>
      `Namespace(${
        [...attributes].filter(([name]) => !name.startsWith("_")).map((
          [name, value],
        ) => `${name}=${pyRepr(value)}`).join(", ")
      })`,
    methods: {
      __getattribute__(name) {
        if (!attributes.has(name as string)) {
          throw pyError(
            "AttributeError",
            `'Namespace' object has no attribute '${name}'`,
          );
        }
        return attributes.get(name as string);
      },
      __setattr__(name, value) {
        attributes.set(name as string, value);
      },
      __delattr__(name) {
        if (!attributes.delete(name as string)) {
          throw pyError("AttributeError", String(name));
        }
      },
    },
  };
}

/** Python's `Value` (as `SyncManager.Value`): `get` and `set`. */
function makeValue(args: unknown[]): Held {
  let value: unknown = args[1] ?? null;
  return {
    value: () => value,
    methods: {
      get: () => value,
      set(next) {
        value = next;
      },
    },
  };
}

/** Resolvers woken in order, each at most once. */
class Waiters {
  #queue: (() => void)[] = [];
  /** Waits until woken or `timeout` seconds (Python's unit) pass. */
  wait(timeout: unknown): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#queue.push(wake);
      if (typeof timeout === "number") {
        timer = setTimeout(() => {
          this.#queue = this.#queue.filter((w) => w !== wake);
          resolve(false);
        }, Math.max(0, timeout * 1000));
      }
    });
  }
  /**
   * Waits, woken in turn, until `take()` succeeds: for `timeout` seconds at
   * most when it is a number (Python's unit), else for as long as it takes;
   * not at all unless `block`. `take` looks and takes in one step, so that
   * no other call comes between what it saw and what it took.
   *
   * @returns Whether `take()` succeeded.
   */
  async waitToTake(
    take: () => boolean,
    block: unknown,
    timeout: unknown,
  ): Promise<boolean> {
    const deadline = typeof timeout === "number"
      ? performance.now() + timeout * 1000
      : Infinity;
    while (!take()) {
      const left = (deadline - performance.now()) / 1000;
      if (!block || left <= 0) return false;
      await this.wait(deadline === Infinity ? null : left);
    }
    return true;
  }
  wakeOne(): void {
    this.#queue.shift()?.();
  }
  wakeAll(): void {
    for (const wake of this.#queue.splice(0)) wake();
  }
}

/** Python's `queue.Queue(maxsize)`. */
function makeQueue(args: unknown[], kwargs: Record<string, unknown>): Held {
  const maxsize = Number(args[0] ?? kwargs.maxsize ?? 0);
  const items: unknown[] = [];
  const getters = new Waiters();
  const putters = new Waiters();
  let unfinished = 0;
  const joiners = new Waiters();
  const full = () => maxsize > 0 && items.length >= maxsize;
  const get = async (block: unknown = true, timeout: unknown = null) => {
    let item: unknown;
    const take = () => {
      if (items.length === 0) return false;
      item = items.shift();
      return true;
    };
    if (!await getters.waitToTake(take, block, timeout)) {
      throw pyError("Empty", "");
    }
    putters.wakeOne();
    return item;
  };
  const put = async (
    item: unknown,
    block: unknown = true,
    timeout: unknown = null,
  ) => {
    const take = () => {
      if (full()) return false;
      items.push(item);
      unfinished++;
      return true;
    };
    if (!await putters.waitToTake(take, block, timeout)) {
      throw pyError("Full", "");
    }
    getters.wakeOne();
  };
  return {
    value: () => [...items],
    methodToTypeid: ITERATES,
    methods: {
      __iter__: () => items[Symbol.iterator](),
      get: (block, timeout) => get(block, timeout),
      put: (item, block, timeout) => put(item, block, timeout),
      get_nowait: () => get(false),
      put_nowait: (item) => put(item, false),
      qsize: () => items.length,
      empty: () => items.length === 0,
      full,
      task_done() {
        if (unfinished <= 0) {
          throw pyError("ValueError", "task_done() called too many times");
        }
        if (--unfinished === 0) joiners.wakeAll();
      },
      async join() {
        while (unfinished > 0) await joiners.wait(null);
      },
    },
  };
}

/** A lock's `timeout`, where -1 (its default), as any negative, is none. */
function lockTimeout(timeout: unknown): unknown {
  return typeof timeout === "number" && timeout >= 0 ? timeout : null;
}

/**
 * Who calls the method that runs: the connection of the handle, as each of
 * CPython's server threads serves one connection (an RLock's owner is the
 * thread, so here the connection). Set just before each call on an object.
 */
let caller: object | undefined;

/**
 * An owned, reentrant lock: Python's `threading.RLock`, the lock of a
 * `Condition` too. The owner is the connection that acquired it.
 */
class ReentrantLock {
  #owner: object | undefined;
  #count = 0;
  #waiters = new Waiters();

  get locked(): boolean {
    return this.#owner !== undefined;
  }

  owns(who: object | undefined): boolean {
    return who !== undefined && this.#owner === who;
  }

  async acquire(
    who: object | undefined,
    blocking: unknown = true,
    timeout: unknown = -1,
  ): Promise<boolean> {
    if (this.owns(who)) {
      this.#count++;
      return true;
    }
    const take = () => {
      if (this.#owner !== undefined) return false;
      this.#owner = who ?? {};
      this.#count = 1;
      return true;
    };
    return await this.#waiters.waitToTake(take, blocking, lockTimeout(timeout));
  }

  release(who: object | undefined): void {
    if (!this.owns(who)) {
      throw pyError("RuntimeError", "cannot release un-acquired lock");
    }
    if (--this.#count === 0) {
      this.#owner = undefined;
      this.#waiters.wakeOne();
    }
  }

  /** Releases it whatever the count, for a Condition's wait: the count. */
  releaseAll(who: object | undefined): number {
    const count = this.#count;
    this.#count = 1;
    this.release(who);
    return count;
  }

  /** Takes it back after a Condition's wait, with the count it had. */
  async restore(who: object | undefined, count: number): Promise<void> {
    await this.acquire(who);
    this.#count = count;
  }
}

/** Python's `threading.RLock`. */
function makeRLock(): Held {
  const lock = new ReentrantLock();
  return {
    value: () => lock.locked,
    methods: {
      acquire: (blocking = true, timeout = -1) =>
        lock.acquire(caller, blocking, timeout),
      release() {
        lock.release(caller);
      },
      locked: () => lock.locked,
    },
  };
}

/** Python's `threading.Condition()` (over an RLock of its own). */
function makeCondition(): Held {
  const lock = new ReentrantLock();
  const waiters = new Waiters();
  const checkOwned = (who: object | undefined, what: string) => {
    if (!lock.owns(who)) {
      throw pyError("RuntimeError", `cannot ${what} on un-acquired lock`);
    }
  };
  return {
    value: () => null,
    methods: {
      acquire: (blocking = true, timeout = -1) =>
        lock.acquire(caller, blocking, timeout),
      release() {
        lock.release(caller);
      },
      async wait(timeout = null) {
        const who = caller;
        checkOwned(who, "wait");
        const count = lock.releaseAll(who);
        try {
          return await waiters.wait(timeout);
        } finally {
          await lock.restore(who, count);
        }
      },
      notify(n = 1) {
        checkOwned(caller, "notify");
        for (let i = 0; i < Number(n); i++) waiters.wakeOne();
      },
      notify_all() {
        checkOwned(caller, "notify");
        waiters.wakeAll();
      },
    },
  };
}

/** Python's `threading.Lock` (acquire, release). */
function makeLock(): Held {
  let locked = false;
  const waiters = new Waiters();
  return {
    value: () => locked,
    methods: {
      async acquire(blocking = true, timeout = -1) {
        const take = () => !locked && (locked = true);
        return await waiters.waitToTake(take, blocking, lockTimeout(timeout));
      },
      release() {
        if (!locked) throw pyError("RuntimeError", "release unlocked lock");
        locked = false;
        waiters.wakeOne();
      },
      locked: () => locked,
    },
  };
}

/** Python's `threading.Event`. */
function makeEvent(): Held {
  let flag = false;
  const waiters = new Waiters();
  return {
    value: () => flag,
    methods: {
      is_set: () => flag,
      set() {
        flag = true;
        waiters.wakeAll();
      },
      clear() {
        flag = false;
      },
      async wait(timeout = null) {
        if (!flag) await waiters.wait(timeout);
        return flag;
      },
    },
  };
}

/**
 * Python's `threading.Semaphore(value)`, or `BoundedSemaphore(value)`
 * when `bounded`: a release past the first value is a `ValueError` then.
 */
function makeSemaphore(args: unknown[], bounded: boolean): Held {
  const first = Number(args[0] ?? 1);
  if (!Number.isInteger(first) || first < 0) {
    throw pyError("ValueError", "semaphore initial value must be >= 0");
  }
  let value = first;
  const waiters = new Waiters();
  return {
    value: () => value,
    methods: {
      async acquire(blocking = true, timeout = null) {
        const take = () => {
          if (value === 0) return false;
          value--;
          return true;
        };
        return await waiters.waitToTake(take, blocking, timeout);
      },
      release(n = 1) {
        const count = Number(n);
        if (!Number.isInteger(count) || count < 1) {
          throw pyError("ValueError", "n must be one or more");
        }
        if (bounded && value + count > first) {
          throw pyError("ValueError", "Semaphore released too many times");
        }
        value += count;
        for (let i = 0; i < count; i++) waiters.wakeOne();
      },
    },
  };
}

/**
 * Python's `threading.Barrier(parties)` (no action): `wait`, `reset`,
 * `abort`, and its attributes `parties`, `n_waiting` and `broken` through
 * `__getattribute__`, as CPython's BarrierProxy reads them.
 */
function makeBarrier(args: unknown[], kwargs: Record<string, unknown>): Held {
  const parties = Number(args[0] ?? kwargs.parties);
  if (!Number.isInteger(parties) || parties < 1) {
    throw pyError("ValueError", "parties must be >= 1");
  }
  const fallback = args[2] ?? kwargs.timeout ?? null;
  let broken = false;
  const waiting: PromiseWithResolvers<number>[] = [];
  const brokenError = () => pyError("BrokenBarrierError", "");
  const breakWaiters = () => {
    for (const waiter of waiting.splice(0)) waiter.reject(brokenError());
  };
  const attributes: Record<string, () => unknown> = {
    parties: () => parties,
    n_waiting: () => waiting.length,
    broken: () => broken,
  };
  return {
    value: () => null,
    repr: () =>
      `<threading.Barrier object: waiters=${waiting.length}/${parties}>`,
    methods: {
      __getattribute__(name) {
        const attribute = attributes[name as string];
        if (!attribute) {
          throw pyError(
            "AttributeError",
            `'Barrier' object has no attribute '${name}'`,
          );
        }
        return attribute();
      },
      wait(timeout = fallback) {
        if (broken) throw brokenError();
        const index = waiting.length;
        if (index + 1 === parties) {
          for (const [i, waiter] of waiting.splice(0).entries()) {
            waiter.resolve(i);
          }
          return index;
        }
        const waiter = Promise.withResolvers<number>();
        waiting.push(waiter);
        if (typeof timeout === "number") {
          const timer = setTimeout(() => {
            if (!waiting.includes(waiter)) return;
            broken = true;
            breakWaiters();
          }, Math.max(0, timeout * 1000));
          waiter.promise.finally(() => clearTimeout(timer)).catch(() => {});
        }
        return waiter.promise;
      },
      reset() {
        breakWaiters();
        broken = false;
      },
      abort() {
        broken = true;
        breakWaiters();
      },
    },
  };
}

/** Python's `array.array(typecode, sequence)` (as `SyncManager.Array`). */
function makeArray(args: unknown[]): Held {
  const typecode = String(args[0]);
  const integral = "bBhHiIlLqQ".includes(typecode);
  const items = [...(args[1] ?? []) as Iterable<unknown>];
  const at = (index: unknown): number => {
    const i = Number(index) < 0 ? items.length + Number(index) : Number(index);
    if (!Number.isInteger(i) || i < 0 || i >= items.length) {
      throw pyError("IndexError", "array index out of range");
    }
    return i;
  };
  const checked = (item: unknown) => {
    if (integral && !Number.isInteger(item) && typeof item !== "bigint") {
      throw pyError(
        "TypeError",
        "'float' object cannot be interpreted as an integer",
      );
    }
    return item;
  };
  items.forEach(checked);
  return {
    value: () => [...items],
    repr: () => `array('${typecode}', ${pyRepr(items)})`,
    methods: {
      __len__: () => items.length,
      __getitem__: (index) => items[at(index)],
      __setitem__(index, item) {
        items[at(index)] = checked(item);
      },
    },
  };
}

/** The items of a Python iterable: a set, list, tuple, dict's keys, str. */
function itemsOf(value: unknown): unknown[] {
  if (typeof value === "string") return [...value];
  if (value instanceof Map) return [...value.keys()];
  if (value instanceof Set || Array.isArray(value)) return [...value];
  if (value && typeof value === "object" && !(value instanceof Uint8Array)) {
    return Object.keys(value);
  }
  throw pyError(
    "TypeError",
    `'${describe(value)}' object is not iterable`,
  );
}

/** Python's `set(iterable)`. */
function makeSet(args: unknown[]): Held {
  /** A set's members by their dict key, as Python hashes them. */
  type Members = Map<string, unknown>;
  const membersOf = (...iterables: unknown[]): Members =>
    new Map(
      iterables.flatMap(itemsOf).map((item) => [keyOf(item), item]),
    );
  let members: Members = args.length ? membersOf(args[0]) : new Map();
  const asSet = (of: Members) => new Set(of.values());
  const where = (of: Members, keep: (key: string) => boolean): Members =>
    new Map([...of].filter(([key]) => keep(key)));
  const union = (a: Members, b: Members): Members => new Map([...a, ...b]);
  const and = (a: Members, b: Members) => where(a, (key) => b.has(key));
  const minus = (a: Members, b: Members) => where(a, (key) => !b.has(key));
  const xor = (a: Members, b: Members) => union(minus(a, b), minus(b, a));
  const subset = (a: Members, b: Members) =>
    [...a.keys()].every((key) => b.has(key));
  const missing = (item: unknown) => pyError("KeyError", pyRepr(item));
  const inPlace = (operation: (a: Members, b: Members) => Members) =>
  (
    ...others: unknown[]
  ) => {
    for (const other of others) members = operation(members, membersOf(other));
    return null;
  };
  const made = (operation: (a: Members, b: Members) => Members) =>
  (
    ...others: unknown[]
  ) =>
    asSet(
      others.reduce<Members>(
        (a, other) => operation(a, membersOf(other)),
        members,
      ),
    );
  const reversed = (operation: (a: Members, b: Members) => Members) =>
  (
    other: unknown,
  ) => asSet(operation(membersOf(other), members));
  return {
    value: () => asSet(members),
    repr: () =>
      members.size
        ? `{${[...members.values()].map(pyRepr).join(", ")}}`
        : "set()",
    methodToTypeid: ITERATES,
    methods: {
      __iter__: () => members.values(),
      __len__: () => members.size,
      __contains__: (item) => members.has(keyOf(item)),
      __class_getitem__: (item) => `set[${String(item)}]`,
      __and__: made(and),
      __or__: made(union),
      __sub__: made(minus),
      __xor__: made(xor),
      __rand__: reversed(and),
      __ror__: reversed(union),
      __rsub__: reversed(minus),
      __rxor__: reversed(xor),
      __iand__: inPlace(and),
      __ior__: inPlace(union),
      __isub__: inPlace(minus),
      __ixor__: inPlace(xor),
      __le__: (other) => subset(members, membersOf(other)),
      __lt__: (other) =>
        subset(members, membersOf(other)) &&
        members.size < membersOf(other).size,
      __ge__: (other) => subset(membersOf(other), members),
      __gt__: (other) =>
        subset(membersOf(other), members) &&
        members.size > membersOf(other).size,
      add(item) {
        members.set(keyOf(item), item);
      },
      clear() {
        members.clear();
      },
      copy: () => asSet(members),
      difference: made(minus),
      difference_update: inPlace(minus),
      discard(item) {
        members.delete(keyOf(item));
      },
      intersection: made(and),
      intersection_update: inPlace(and),
      isdisjoint: (other) => and(members, membersOf(other)).size === 0,
      issubset: (other) => subset(members, membersOf(other)),
      issuperset: (other) => subset(membersOf(other), members),
      pop() {
        const first = members.entries().next();
        if (first.done) throw pyError("KeyError", "'pop from an empty set'");
        members.delete(first.value[0]);
        return first.value[1];
      },
      remove(item) {
        if (!members.delete(keyOf(item))) throw missing(item);
      },
      symmetric_difference: made(xor),
      symmetric_difference_update: inPlace(xor),
      union: made(union),
      update: inPlace(union),
    },
  };
}

/** Python's iterator of a container (`iter(d)`): `__next__` until done. */
function makeIterator(args: unknown[]): Held {
  const source = args[0] as
    | Iterable<unknown>
    | AsyncIterable<unknown>
    | Iterator<unknown>;
  // A pool's imap is an async iterable: its __next__ waits for each result.
  const iterator: Iterator<unknown> | AsyncIterator<unknown> =
    typeof (source as AsyncIterable<unknown>)?.[Symbol.asyncIterator] ===
        "function"
      ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : typeof (source as Iterable<unknown>)?.[Symbol.iterator] === "function"
      ? (source as Iterable<unknown>)[Symbol.iterator]()
      : source as Iterator<unknown>;
  if (typeof iterator?.next !== "function") {
    throw pyError("TypeError", "the object is not iterable");
  }
  const valueOf = (step: IteratorResult<unknown>) => {
    if (step.done) throw pyError("StopIteration", "");
    return step.value;
  };
  return {
    value: () => null,
    methods: {
      __next__() {
        const step = iterator.next();
        return step instanceof Promise ? step.then(valueOf) : valueOf(step);
      },
    },
  };
}

/**
 * A task a pool runs, as a value a method can return without the server
 * awaiting it (a promise would be): the `AsyncResult` made of it holds it.
 */
class Pending {
  constructor(readonly promise: Promise<unknown>) {}
}

/** Python's `AsyncResult` of a pool's `apply_async` and `map_async`. */
function makeAsyncResult(args: unknown[]): Held {
  const { promise } = args[0] as Pending;
  let outcome: { value: unknown } | { error: unknown } | undefined;
  const settled = promise.then(
    (value) => void (outcome = { value }),
    (error) => void (outcome = { error }),
  );
  /** Whether it settled within `timeout` seconds (None: no limit). */
  const settles = async (timeout: unknown) => {
    if (typeof timeout !== "number") {
      await settled;
      return true;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeout * 1000));
    });
    await Promise.race([settled, late]);
    clearTimeout(timer);
    return outcome !== undefined;
  };
  return {
    value: () => null,
    methods: {
      // A keyword timeout lands second: PARAMETERS names a queue's get.
      async get(timeout = null, keywordTimeout = undefined) {
        const limit = keywordTimeout === undefined ? timeout : keywordTimeout;
        if (!await settles(limit)) throw pyError("TimeoutError", "");
        if ("error" in outcome!) throw outcome.error;
        return outcome!.value;
      },
      async wait(timeout = null) {
        await settles(timeout);
      },
      ready: () => outcome !== undefined,
      successful() {
        if (outcome === undefined) {
          throw pyError("ValueError", "the result is not ready");
        }
        return !("error" in outcome);
      },
    },
  };
}

type PoolModule = typeof import("../pool.ts");

/**
 * Python's `multiprocessing.Pool(processes, initializer, initargs,
 * maxtasksperchild)` in the server (`SyncManager.Pool`). A task's function
 * is data here, `{ module, export }`, which the pool's workers import: a
 * pickle carries no function.
 */
function makePool(args: unknown[], kwargs: Record<string, unknown>): Held {
  const option = (i: number, name: string) => args[i] ?? kwargs[name] ?? null;
  const processes = option(0, "processes");
  if (
    processes !== null &&
    (!Number.isInteger(processes) || processes as number < 1)
  ) {
    throw pyError("ValueError", "Number of processes must be at least 1");
  }
  // The pool module is loaded by the first Pool only: most servers have none.
  const made = import("../pool.ts").then(({ Pool }: PoolModule) =>
    new Pool({
      processes: processes as number ?? undefined,
      initializer: option(1, "initializer") as never ?? undefined,
      initArgs: option(2, "initargs") as unknown[] ?? undefined,
      maxTasksPerChild: option(3, "maxtasksperchild") as number ?? undefined,
    })
  );
  made.catch(() => {});
  /** Python's chunksize=None is the pool's own rule. */
  const mapOptions = (chunksize: unknown) =>
    typeof chunksize === "number" ? { chunksize } : {};
  type Task = Parameters<InstanceType<PoolModule["Pool"]>["apply"]>[0];
  const apply = async (func: unknown, callArgs: unknown = []) =>
    await (await made).apply(func as Task, [...callArgs as unknown[]]);
  const map = async (func: unknown, iterable: unknown, chunksize: unknown) =>
    await (await made).map(
      func as Task,
      itemsOf(iterable),
      mapOptions(chunksize),
    );
  const starmap = async (
    func: unknown,
    iterable: unknown,
    chunksize: unknown,
  ) =>
    await (await made).starmap(
      func as Task,
      itemsOf(iterable).map((item) => [...item as unknown[]]),
      mapOptions(chunksize),
    );
  const imap = (unordered: boolean) =>
  async (
    func: unknown,
    iterable: unknown,
    chunksize: unknown = 1,
  ) => {
    const pool = await made;
    const options = mapOptions(chunksize);
    return unordered
      ? pool.imapUnordered(func as Task, itemsOf(iterable), options)
      : pool.imap(func as Task, itemsOf(iterable), options);
  };
  return {
    value: () => null,
    repr: () => "<multiprocessing.pool.Pool>",
    methodToTypeid: {
      apply_async: "AsyncResult",
      map_async: "AsyncResult",
      starmap_async: "AsyncResult",
      imap: "Iterator",
      imap_unordered: "Iterator",
    },
    methods: {
      apply,
      map: (func, iterable, chunksize = null) => map(func, iterable, chunksize),
      starmap: (func, iterable, chunksize = null) =>
        starmap(func, iterable, chunksize),
      apply_async: (func, callArgs = []) => new Pending(apply(func, callArgs)),
      map_async: (func, iterable, chunksize = null) =>
        new Pending(map(func, iterable, chunksize)),
      starmap_async: (func, iterable, chunksize = null) =>
        new Pending(starmap(func, iterable, chunksize)),
      imap: imap(false),
      imap_unordered: imap(true),
      async close() {
        (await made).close();
      },
      async join() {
        await (await made).join();
      },
      async terminate() {
        const pool = await made;
        pool.terminate();
        await pool.join();
      },
    },
  };
}

/** The types every manager serves, by Python's typeids. */
export const TYPES: Record<string, Factory> = {
  dict: makeDict,
  list: makeList,
  Namespace: makeNamespace,
  Value: makeValue,
  Queue: makeQueue,
  JoinableQueue: makeQueue,
  Lock: makeLock,
  RLock: makeRLock,
  Condition: makeCondition,
  Semaphore: (args) => makeSemaphore(args, false),
  BoundedSemaphore: (args) => makeSemaphore(args, true),
  Event: makeEvent,
  Barrier: makeBarrier,
  Array: makeArray,
  set: makeSet,
  Iterator: makeIterator,
  Pool: makePool,
  AsyncResult: makeAsyncResult,
};

/** How a registered type is served (Python's `register` arguments). */
export interface TypeOptions {
  /** The methods a proxy may call (default: those not starting with `_`). */
  exposed?: string[];
  /** Methods whose result is served as a new object of that typeid. */
  methodToTypeid?: Record<string, string>;
}

/**
 * Adds a type of the user's: `factory(...args)` makes the object (without
 * a factory, the one argument is the object, as Python's `callable=None`),
 * whose methods not starting with `_` are exposed unless `exposed` names
 * them.
 */
export function registerType(
  typeid: string,
  factory: ((...args: unknown[]) => unknown) | null,
  options: TypeOptions = {},
): void {
  TYPES[typeid] = (args) => {
    if (!factory && args.length !== 1) {
      throw pyError(
        "ValueError",
        "Without callable, must have one non-keyword argument",
      );
    }
    const object = factory ? factory(...args) : args[0];
    if (typeof object !== "object" || object === null) {
      throw new TypeError(`The factory of ${typeid} made no object`);
    }
    // A generator or other iterator serves Python's iterator protocol.
    if (isIterator(object) && !options.exposed) {
      return {
        ...makeIterator([object]),
        methodToTypeid: options.methodToTypeid,
      };
    }
    const methods: Held["methods"] = {};
    const wanted = options.exposed ? new Set(options.exposed) : undefined;
    for (
      let proto: object | null = object;
      proto && proto !== Object.prototype;
      proto = Object.getPrototypeOf(proto)
    ) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        const fn = (object as Record<string, unknown>)[name];
        if (
          name === "constructor" || name in methods ||
          typeof fn !== "function" ||
          (wanted ? !wanted.has(name) : name.startsWith("_"))
        ) continue;
        methods[name] = (fn as (...args: unknown[]) => unknown).bind(object);
      }
    }
    return {
      methods,
      value: () => null,
      methodToTypeid: options.methodToTypeid,
    };
  };
}

function isIterator(object: object): boolean {
  return typeof (object as Iterator<unknown>).next === "function" &&
    typeof (object as Iterable<unknown>)[Symbol.iterator] === "function";
}

/** An address as Python writes it: a path, or a `(host, port)` tuple. */
export function pythonAddress(address: Address): unknown {
  return typeof address === "string"
    ? address
    : tuple(address.hostname, address.port);
}

/** An object the server holds, and how many references it has. */
interface Entry {
  held: Held;
  typeid: string;
  refs: number;
}

/**
 * Serves the manager protocol on `listener` until it is closed.
 *
 * References are counted as CPython's server counts them: `create` and
 * `incref` add one, `decref` takes one away, and the object is dropped at
 * zero. One addition, for Deno clients: a connection that asks
 * `accept_references` stays open and serves `create`, `incref` and `decref`
 * for its whole process; when it closes (that process ended, however) the
 * references it still holds are given back.
 *
 * `door` is the way in of the threads of the process the server runs in
 * (see local.ts): each thread's calls, and its references, come through a
 * channel of its own, which counts as one caller and as one such
 * connection.
 */
export async function serve(
  listener: Listener,
  door?: DoorForm,
): Promise<void> {
  const objects = new Map<string, Entry>();
  /**
   * Objects a proxy stored on the server refers to (a list in a dict):
   * kept while the server runs, as CPython's `id_to_local_proxy_obj`.
   */
  const pinned = new Map<string, Entry>();
  const address = pythonAddress(listener.address);
  // Ids differ from one server to the next, so that a handle left from a
  // server that stopped cannot reach an object of a new one at its address.
  const server = crypto.getRandomValues(new Uint32Array(1))[0].toString(16) +
    "-";
  let next = 0;

  const create = (
    typeid: unknown,
    args: unknown[],
    kwargs: Kwargs,
  ): [string, Tuple<string>] => {
    const factory = TYPES[typeid as string];
    if (!factory) throw new Error(`KeyError: ${String(typeid)}`);
    const id = `${server}${(++next).toString(16)}`;
    const held = factory(args, kwargs);
    objects.set(id, { held, typeid: typeid as string, refs: 1 });
    return [id, tuple(...Object.keys(held.methods))];
  };
  const incref = (id: string) => {
    const entry = objects.get(id);
    if (entry) entry.refs++;
    else if (pinned.has(id)) objects.set(id, { ...pinned.get(id)!, refs: 1 });
    else throw new Error(`KeyError: ${id}`);
  };
  const decref = (id: string, times = 1) => {
    const entry = objects.get(id);
    if (!entry) return; // Gone already (the server shut it, or a race).
    entry.refs -= times;
    if (entry.refs <= 0) objects.delete(id);
  };
  /** Pins the objects of this server that `value` holds proxies of. */
  const pinProxies = (value: unknown, depth = 0): void => {
    if (typeof value !== "object" || value === null || depth > 64) return;
    if (value instanceof ProxyRef) {
      const entry = objects.get(value.token.id);
      if (entry && sameAddress(value.token.address, address)) {
        pinned.set(value.token.id, entry);
      }
      return;
    }
    if (value instanceof Uint8Array) return;
    const items = value instanceof Map
      ? [...value.keys(), ...value.values()]
      : Array.isArray(value) || value instanceof Set
      ? value
      : Object.values(value);
    for (const item of items) pinProxies(item, depth + 1);
  };

  type Owned = Map<string, number>;
  const functions: Record<
    string,
    (args: unknown[], kwargs: Kwargs, owned?: Owned) => unknown
  > = {
    dummy: () => null,
    create([typeid, ...args], kwargs, owned) {
      pinProxies(args);
      const [id, exposed] = create(typeid, args, kwargs);
      if (owned) owned.set(id, (owned.get(id) ?? 0) + 1);
      return tuple(id, exposed);
    },
    incref([id], _kwargs, owned) {
      incref(String(id));
      if (owned) owned.set(String(id), (owned.get(String(id)) ?? 0) + 1);
      return null;
    },
    decref([id], _kwargs, owned) {
      decref(String(id));
      if (owned) owned.set(String(id), (owned.get(String(id)) ?? 0) - 1);
      return null;
    },
    number_of_objects: () => objects.size,
    get_methods: ([token]) => {
      const id = String((token as { id?: unknown })?.id);
      const entry = objects.get(id) ?? pinned.get(id);
      return tuple(...Object.keys(entry?.held.methods ?? {}));
    },
    debug_info: () =>
      [...objects].map(([id, { typeid, refs }]) =>
        `  ${id}: refcount=${refs}\n    ${typeid}`
      ).join("\n"),
  };

  /**
   * The answer to a call on a shared object: at once when the method
   * returns at once, a promise of it when the method returns one.
   */
  const call = (request: unknown): unknown => {
    const [id, method, args, kwargs] = request as [
      string,
      string,
      unknown[],
      Kwargs,
    ];
    const entry = objects.get(id) ?? pinned.get(id);
    if (!entry) throw new Error(`KeyError: no object ${id}`);
    const { held } = entry;
    if (method === "#GETVALUE") return tuple("#RETURN", held.value());
    if (method === "__str__" || method === "__repr__") {
      return tuple("#RETURN", held.repr?.() ?? pyRepr(held.value()));
    }
    const fn = held.methods[method];
    if (!fn) {
      throw new Error(
        `AttributeError: method '${method}' is not in exposed=${
          Object.keys(held.methods)
        }`,
      );
    }
    let result: unknown;
    try {
      if (args?.length) pinProxies(args);
      result = fn(...argumentsOf(method, args ?? [], kwargs));
    } catch (error) {
      return tuple("#ERROR", error);
    }
    const answer = (result: unknown) => {
      const typeid = held.methodToTypeid?.[method];
      if (typeid === undefined) return tuple("#RETURN", result);
      // A method that returns a shared object (Python's method_to_typeid).
      const [rid, exposed] = create(typeid, [result], {});
      return tuple("#PROXY", tuple(exposed, new Token(typeid, address, rid)));
    };
    return isThenable(result)
      ? Promise.resolve(result).then(answer, (error) => tuple("#ERROR", error))
      : answer(result);
  };

  /** {@linkcode call}, with a failure of the server's own as its answer. */
  const answerOf = (request: unknown): unknown => {
    const traceback = (error: unknown) =>
      tuple("#TRACEBACK", String((error as Error).message) + "\n");
    try {
      const answer = call(request);
      return answer instanceof Promise ? answer.catch(traceback) : answer;
    } catch (error) {
      return traceback(error);
    }
  };

  const serveClient = async (conn: SocketConnection) => {
    for (;;) {
      let request: unknown;
      try {
        request = await conn.recv();
      } catch {
        return; // EOF, or a broken peer: its connection only.
      }
      // The method runs in this turn, before its first await: it reads
      // who calls (an RLock's owner) from `caller`.
      caller = conn;
      let answer = answerOf(request);
      if (answer instanceof Promise) answer = await answer;
      if (!await answerWith(conn, answer)) return;
    }
  };

  /** The answer to a request for a server function. */
  const dispatch = (request: unknown, owned?: Owned): Tuple => {
    try {
      const [, name, args, kwargs] = request as [
        unknown,
        string,
        unknown[],
        Kwargs,
      ];
      const fn = functions[name];
      if (!fn) throw new Error(`'${name}' unrecognized`);
      return tuple("#RETURN", fn([...(args ?? [])], kwargs ?? {}, owned));
    } catch (error) {
      return tuple("#TRACEBACK", `${(error as Error).message}\n`);
    }
  };

  /** Gives back the references a connection or channel still holds. */
  const giveBackOwned = (owned: Owned) => {
    for (const [id, count] of owned) if (count > 0) decref(id, count);
  };

  if (door) {
    // Each thread's channel is one caller, and holds its references as a
    // connection that asked `accept_references` does.
    new LocalServer(door, {
      open: () => ({ owned: new Map() as Owned }),
      answer(request, channel) {
        if (request[0] === null) return dispatch(request, channel.owned);
        caller = channel;
        return answerOf(request);
      },
      ended: (channel) => giveBackOwned(channel.owned),
      unserializable,
    }).serve();
  }

  /** A Deno process's connection for its references (see above). */
  const serveReferences = async (conn: SocketConnection) => {
    const owned: Owned = new Map();
    try {
      for (;;) {
        let request: unknown;
        try {
          request = await conn.recv();
        } catch {
          return;
        }
        if (!await answerWith(conn, dispatch(request, owned))) return;
      }
    } catch {
      // The process went away mid-answer.
    } finally {
      giveBackOwned(owned);
    }
  };

  const handle = async (conn: SocketConnection) => {
    let request: [unknown, string, unknown[], Kwargs];
    try {
      request = await conn.recv() as typeof request;
    } catch {
      return;
    }
    const name = request?.[1];
    if (name === "accept_connection" || name === "accept_references") {
      try {
        await conn.send(tuple("#RETURN", null));
      } catch {
        return;
      }
      return await (name === "accept_connection"
        ? serveClient(conn)
        : serveReferences(conn));
    }
    if (name === "shutdown") {
      await conn.send(tuple("#RETURN", null)).catch(() => {});
      listener.close();
      return;
    }
    await conn.send(dispatch(request)).catch(() => {});
  };

  for (;;) {
    let conn: SocketConnection;
    try {
      conn = await listener.accept();
    } catch {
      return; // Closed.
    }
    handle(conn).finally(() => conn.close());
  }
}

/**
 * Sends `answer`; one that cannot be pickled is reported as CPython's
 * `#UNSERIALIZABLE`. `false` when the peer is gone.
 */
async function answerWith(
  conn: SocketConnection,
  answer: unknown,
): Promise<boolean> {
  try {
    await conn.send(answer);
    return true;
  } catch (error) {
    if (!(error instanceof TypeError)) return false;
  }
  return await conn.send(unserializable(answer)).then(() => true, () => false);
}

/** What answers in place of an answer that cannot be pickled. */
function unserializable(answer: unknown): Tuple {
  return tuple("#UNSERIALIZABLE", `${(answer as unknown[])[1]}\n`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown>)?.then === "function";
}

/** Whether two addresses as Python writes them are the same. */
function sameAddress(a: unknown, b: unknown): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return Array.isArray(a) && Array.isArray(b) && a[1] === b[1];
}

/**
 * Python passes some arguments by keyword (`get(timeout=1)`): the names of
 * each method's parameters, in order, turn them into positions.
 */
const PARAMETERS: Record<string, string[]> = {
  get: ["block", "timeout"],
  put: ["item", "block", "timeout"],
  acquire: ["blocking", "timeout"],
  wait: ["timeout"],
};

/** The arguments of a call, with Python's keyword arguments in place. */
function argumentsOf(
  method: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
): unknown[] {
  const out = [...args];
  if (!kwargs || Object.keys(kwargs).length === 0) return out;
  const names = PARAMETERS[method];
  if (!names) return [...out, kwargs];
  names.forEach((name, i) => {
    if (name in kwargs) out[i] = kwargs[name];
  });
  return out;
}
