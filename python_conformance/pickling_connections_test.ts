// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestPicklingConnections, ported (see _util.ts for how): a
// connection sent to another process in a message.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import type { Connection } from "../pipe.ts";
import { childAccess } from "./_connection_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test({
    name: `${backend}: _TestPicklingConnections.test_pickling`,
    // A child sends the connections its Listener accepted, and a plain
    // socket's, to the parent, which reads from them: Python pickles the
    // socket's file descriptor and hands it over (resource_sharer, or
    // SCM_RIGHTS). Deno cannot give a socket to another process or to a
    // Worker (a Deno.Conn has no handle that can be sent), so a
    // connection of connection.ts stays in the process that made it; a
    // Pipe end, which can cross, is what test_access sends.
    ignore: true,
    fn() {},
  });

  Deno.test(`${backend}: _TestPicklingConnections.test_access`, async () => {
    await using _ = testScope();
    const [conn, childConn] = mp.Pipe();
    const p = new mp.Process({ target: childAccess, args: [childConn] });
    p.daemon = true;
    p.start();
    childConn.close();

    let [r, w]: [Connection, Connection] = mp.Pipe(false);
    conn.send(w);
    w.close();
    assert.equal(await r.recv(), "all is well");
    r.close();

    [r, w] = mp.Pipe(false);
    conn.send(r);
    r.close();
    w.send("foobar");
    w.close();
    assert.equal(await conn.recv(), "foobar".repeat(2));

    await p.join();
  });
}
