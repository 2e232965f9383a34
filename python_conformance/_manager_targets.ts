// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// What managers_test.ts, listener_test.ts and initializers_test.ts register
// with a manager and run in children (CPython's FooBar, baz, get_queue,
// initializer and the _putter and _test class methods).
import { type Address, Client } from "../connection.ts";
import { BaseManager, type NamespaceProxy } from "../manager.ts";

/** CPython's FooBar: `f` and `g` public, `_h` private. */
export function makeFooBar(): { f(): string; g(): never; _h(): string } {
  return {
    f: () => "f()",
    g() {
      const error = new Error("");
      error.name = "ValueError";
      throw error;
    },
    _h: () => "_h()",
  };
}

/** CPython's baz: a generator of squares. */
export function* baz(): Generator<number> {
  for (let i = 0; i < 10; i++) yield i * i;
}

/** A queue's put and a get that waits (CPython's `queue.Queue`). */
class WaitingQueue {
  #items: unknown[] = [];
  #getters: ((item: unknown) => void)[] = [];
  put(item: unknown): void {
    const getter = this.#getters.shift();
    if (getter) getter(item);
    else this.#items.push(item);
  }
  get(): unknown {
    if (this.#items.length) return this.#items.shift();
    return new Promise((resolve) => this.#getters.push(resolve));
  }
}

let queue: WaitingQueue | undefined;

/** CPython's get_queue: the one queue of the manager's server. */
export function getQueue(): WaitingQueue {
  return queue ??= new WaitingQueue();
}

/** _TestRemoteManager._putter and _TestManagerRestart._putter. */
export async function putter(
  address: Address,
  authkey: Uint8Array,
  values: unknown,
): Promise<void> {
  const manager = new BaseManager({ address, authkey });
  await manager.connect();
  await using q = await manager.create("get_queue");
  await q.call("put", [values]);
}

/** _TestListenerClient._test: connects, sends 'hello', closes. */
export async function sayHello(address: Address): Promise<void> {
  const conn = await Client(address);
  await conn.send("hello");
  await conn[Symbol.asyncDispose]();
}

/** CPython's module-level `initializer(ns)` of TestInitializers. */
export async function initializer(ns: NamespaceProxy): Promise<void> {
  await ns.set("test", await ns.get("test") as number + 1); // ns.test += 1
}
