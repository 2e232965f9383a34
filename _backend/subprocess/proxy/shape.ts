// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What a subprocess child needs to know of a primitive to build its proxy:
// the names of its methods, getters and setters, read off the object's
// prototype chain, so that one generic proxy serves every primitive (Lock,
// Queue, Connection, Value...) without knowing any of them.

/**
 * How a member is reached: `m` a method, `a` an `async` method (its result
 * is always a promise, so the child need not wait for it), `g` a getter,
 * `s` a getter with a setter.
 */
export type MemberKind = "m" | "a" | "g" | "s";

/** A primitive's members, by name (symbols as `@@name`). */
export interface Shape {
  /** The class name, for inspection. */
  name: string;
  members: Record<string, MemberKind>;
  /** Whether numeric keys (an `Array`'s elements) are forwarded too. */
  indexed: boolean;
}

/** The well-known symbols a proxy forwards, by their `@@` names. */
export const SYMBOLS: Record<string, symbol> = {
  "@@asyncIterator": Symbol.asyncIterator,
  "@@iterator": Symbol.iterator,
  "@@dispose": Symbol.dispose,
  "@@asyncDispose": Symbol.asyncDispose,
};

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;

function keyName(key: string | symbol): string | undefined {
  if (typeof key === "string") return key;
  for (const [name, symbol] of Object.entries(SYMBOLS)) {
    if (symbol === key) return name;
  }
  return undefined;
}

function memberKind(descriptor: PropertyDescriptor): MemberKind | undefined {
  if (descriptor.get || descriptor.set) return descriptor.set ? "s" : "g";
  if (typeof descriptor.value === "function") {
    return descriptor.value instanceof AsyncFunction ? "a" : "m";
  }
  return descriptor.value === undefined ? undefined : "g";
}

/** The members of `value`, from the object itself up its prototype chain. */
export function shapeOf(value: object): Shape {
  const members: Record<string, MemberKind> = {};
  let indexed = false;
  for (
    let object: object | null = value;
    object !== null && object !== Object.prototype;
    object = Object.getPrototypeOf(object)
  ) {
    for (const key of Reflect.ownKeys(object)) {
      if (key === "constructor") continue;
      const name = keyName(key);
      if (name === undefined || name in members) continue;
      if (/^\d+$/.test(name)) {
        indexed = true;
        continue;
      }
      const descriptor = Object.getOwnPropertyDescriptor(object, key)!;
      const kind = memberKind(descriptor);
      if (kind) members[name] = kind;
    }
  }
  if (typeof (members.length) === "string" && "@@iterator" in members) {
    indexed = true;
  }
  return {
    name: (value as { constructor?: { name?: string } }).constructor?.name ??
      "Object",
    members,
    indexed,
  };
}
