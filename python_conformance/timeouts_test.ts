// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's TestTimeouts (issue 6056: a default socket timeout must not
// break a Listener's connections), ported (see _util.ts for how). CPython
// runs it once, with its default start method; here once per backend.
//
// Python's socket.setdefaulttimeout(0.1) has no equivalent in Deno: the
// nearest is the connections' own `timeout` option, the time a peer may
// stall in the middle of a message or of the handshake, set here to the
// same 0.1 s on the listener. Waiting for a peer (accept()) or for its next
// message has no limit, as in CPython with the fix.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { Listener } from "../connection.ts";
import { timeoutChild } from "./_connection_targets.ts";
import { BACKENDS, testScope } from "./_util.ts";

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test(`${backend}: TestTimeouts.test_timeout`, async () => {
    await using _ = testScope();
    const [parent, child] = mp.Pipe(true);
    const l = new Listener({ hostname: "127.0.0.1", port: 0 }, {
      timeout: 100,
    });
    const p = new mp.Process({
      target: timeoutChild,
      args: [child, l.address],
    });
    p.start();
    child.close();
    assert.equal(await parent.recv(), 123);
    parent.close();
    const conn = await l.accept();
    assert.equal(await conn.recv(), 456);
    conn.close();
    l.close();
    await p.join();
  });
}
