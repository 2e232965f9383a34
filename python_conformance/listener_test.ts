// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestListener and _TestListenerClient, ported for the
// Listener and Client of connection.ts (see _util.ts for how).
//
// CPython's `connection.families` are AF_INET and AF_UNIX: here a
// `{ hostname: "127.0.0.1", port: 0 }` and a socket path in a new folder
// (CPython's `Listener(family=...)` picks such addresses itself). Python's
// OSError for a taken address or a closed listener is `ProcessError`.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { type Address, Client, Listener } from "../connection.ts";
import { ProcessError } from "../errors.ts";
import { sayHello } from "./_manager_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

/** One address of each family, in a folder removed when disposed. */
async function families(): Promise<
  { addresses: Address[] } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "mp_listener_" });
  return {
    addresses: [{ hostname: "127.0.0.1", port: 0 }, `${dir}/socket`],
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(`${backend}: _TestListener.test_multiple_bind`, async () => {
    await using f = await families();
    for (const family of f.addresses) {
      using l = new Listener(family);
      assert.throws(() => new Listener(l.address), ProcessError);
    }
  });

  Deno.test(`${backend}: _TestListener.test_context`, async () => {
    let kept: Listener;
    {
      await using l = new Listener({ hostname: "127.0.0.1", port: 0 });
      kept = l;
      await using c = await Client(l.address);
      await using d = await l.accept();
      await c.send(1729);
      assert.equal(await d.recv(), 1729);
    }
    await assert.rejects(kept.accept(), ProcessError);
  });

  Deno.test(`${backend}: _TestListener.test_empty_authkey`, async () => {
    // bpo-43952: an empty authkey is allowed (no handshake).
    const key = new Uint8Array(0);
    let kept: Listener;
    {
      await using listener = new Listener({ hostname: "127.0.0.1", port: 0 }, {
        authkey: key,
      });
      kept = listener;
      // CPython's client runs in a thread: here a promise beside accept().
      const run = (async () => {
        await using client = await Client(listener.address, { authkey: key });
        await client.send(1729);
      })();
      try {
        await using d = await listener.accept();
        assert.equal(await d.recv(), 1729);
      } finally {
        await run;
      }
    }
    await assert.rejects(kept.accept(), ProcessError);
  });

  Deno.test({
    name: `${backend}: _TestListener.test_abstract_socket`,
    // Linux's abstract socket names ("\0something"): Deno.listen takes a
    // path and has no way to name an abstract socket.
    ignore: true,
    fn() {},
  });

  Deno.test(`${backend}: _TestListenerClient.test_listener_client`, async () => {
    await using _ = testScope();
    await using f = await families();
    for (const family of f.addresses) {
      const l = new Listener(family);
      const p = new mp.Process({ target: sayHello, args: [l.address] });
      p.daemon = true;
      p.start();
      await using conn = await l.accept();
      assert.equal(await conn.recv(), "hello");
      await p.join();
      l.close();
    }
  });

  Deno.test(`${backend}: _TestListenerClient.test_issue14725`, async () => {
    await using _ = testScope();
    const l = new Listener({ hostname: "127.0.0.1", port: 0 });
    const p = new mp.Process({ target: sayHello, args: [l.address] });
    p.daemon = true;
    p.start();
    // CPython sleeps 1 s so that the client has connected, written and
    // closed before accept(): here the child's end says so.
    await p.join();
    const conn = await l.accept();
    assert.equal(await conn.recv(), "hello");
    conn.close();
    l.close();
  });

  Deno.test(`${backend}: _TestListenerClient.test_issue16955`, async () => {
    await using f = await families();
    for (const fam of f.addresses) {
      const l = new Listener(fam);
      const c = await Client(l.address);
      const a = await l.accept();
      await a.sendBytes(new TextEncoder().encode("hello"));
      assert.equal(await c.poll(1000), true);
      a.close();
      c.close();
      l.close();
    }
  });
}
