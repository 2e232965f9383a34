// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's _TestConnection, ported for Pipe (see _util.ts for how).
//
// Not ported: test_fd_transfer, test_large_fd_transfer and
// test_missing_fd_transfer (passing file descriptors); and of
// test_connection, conn.fileno(), which the contract does not have.
import assert from "node:assert/strict";
import { getContext } from "../context.ts";
import { BufferTooShort, EOFError, ProcessError } from "../errors.ts";
import { echo } from "./_connection_targets.ts";
import { BACKENDS, latin, testScope, TIMEOUT1 } from "./_util.ts";

const SENTINEL = latin("");

for (const backend of BACKENDS) {
  const mp = getContext(backend);

  Deno.test({
    name: `${backend}: _TestConnection.test_connection`,
    async fn() {
      await using _ = testScope();
      const [conn, childConn] = mp.Pipe();

      const p = new mp.Process({ target: echo, args: [childConn] });
      p.daemon = true;
      p.start();

      const seq = [1, 2.25, null];
      const msg = latin("hello world");
      const longmsg = latin("hello world".repeat(10));
      const arr = new Int32Array([0, 1, 2, 3]);

      assert.equal(conn.send(seq), undefined);
      assert.deepEqual(await conn.recv(), seq);

      assert.equal(conn.sendBytes(msg), undefined);
      assert.deepEqual(await conn.recvBytes(), msg);

      let buffer = new Int32Array(10);
      let expected = [...arr, ...new Array(10 - arr.length).fill(0)];
      assert.equal(conn.sendBytes(arr), undefined);
      assert.equal(
        await conn.recvBytesInto(buffer),
        arr.length * buffer.BYTES_PER_ELEMENT,
      );
      assert.deepEqual([...buffer], expected);

      buffer = new Int32Array(10);
      expected = [0, 0, 0, ...arr, ...new Array(10 - 3 - arr.length).fill(0)];
      assert.equal(conn.sendBytes(arr), undefined);
      assert.equal(
        await conn.recvBytesInto(buffer, 3 * buffer.BYTES_PER_ELEMENT),
        arr.length * buffer.BYTES_PER_ELEMENT,
      );
      assert.deepEqual([...buffer], expected);

      const bytes = latin(" ".repeat(40));
      assert.equal(conn.sendBytes(longmsg), undefined);
      const error = await conn.recvBytesInto(bytes).then(
        (res) => assert.fail(`expected BufferTooShort, got ${res}`),
        (error) => error,
      );
      assert(error instanceof BufferTooShort);
      assert.deepEqual(error.bytes, longmsg);

      assert.equal(await conn.poll(), false);

      // A documented difference (README): a negative timeout is a
      // RangeError, as SPEC.md says; Python's poll(-1) is poll(0).
      await assert.rejects(conn.poll(-1), RangeError);

      assert.equal(await conn.poll(TIMEOUT1), false);

      conn.send(null);
      // CPython sleeps 0.1 s here; the poll waits for the echo itself.

      assert.equal(await conn.poll(TIMEOUT1), true);

      assert.equal(await conn.recv(), null);

      const reallyBigMsg = new Uint8Array(1024 * 1024 * 16).fill(0x58); // 16Mb
      conn.sendBytes(reallyBigMsg);
      assert.deepEqual(await conn.recvBytes(), reallyBigMsg);

      conn.sendBytes(SENTINEL); // tell child to quit
      childConn.close();

      assert.equal(conn.readable, true);
      assert.equal(conn.writable, true);
      await assert.rejects(conn.recv(), EOFError);
      await assert.rejects(conn.recvBytes(), EOFError);

      await p.join();
    },
  });

  Deno.test(`${backend}: _TestConnection.test_duplex_false`, async () => {
    const [reader, writer] = mp.Pipe({ duplex: false });
    assert.equal(writer.send(1), undefined);
    assert.equal(await reader.recv(), 1);
    assert.equal(reader.readable, true);
    assert.equal(reader.writable, false);
    assert.equal(writer.readable, false);
    assert.equal(writer.writable, true);
    assert.throws(() => reader.send(2), ProcessError);
    await assert.rejects(writer.recv(), ProcessError);
    await assert.rejects(writer.poll(), ProcessError);
    reader.close();
    writer.close();
  });

  Deno.test(`${backend}: _TestConnection.test_spawn_close`, async () => {
    await using _ = testScope();
    // We test that a pipe connection can be closed by parent process
    // immediately after child is spawned.
    const [conn, childConn] = mp.Pipe();

    const p = new mp.Process({ target: echo, args: [childConn] });
    p.daemon = true;
    p.start();
    childConn.close(); // this might complete before child initializes

    const msg = latin("hello");
    conn.sendBytes(msg);
    assert.deepEqual(await conn.recvBytes(), msg);

    conn.sendBytes(SENTINEL);
    conn.close();
    await p.join();
  });

  Deno.test(`${backend}: _TestConnection.test_sendbytes`, async () => {
    const msg = latin("abcdefghijklmnopqrstuvwxyz");
    const [a, b] = mp.Pipe();

    a.sendBytes(msg);
    assert.deepEqual(await b.recvBytes(), msg);

    a.sendBytes(msg, 5);
    assert.deepEqual(await b.recvBytes(), msg.slice(5));

    a.sendBytes(msg, 7, 8);
    assert.deepEqual(await b.recvBytes(), msg.slice(7, 7 + 8));

    a.sendBytes(msg, 26);
    assert.deepEqual(await b.recvBytes(), latin(""));

    a.sendBytes(msg, 26, 0);
    assert.deepEqual(await b.recvBytes(), latin(""));

    assert.throws(() => a.sendBytes(msg, 27), RangeError);

    assert.throws(() => a.sendBytes(msg, 22, 5), RangeError);

    assert.throws(() => a.sendBytes(msg, 26, 1), RangeError);

    assert.throws(() => a.sendBytes(msg, -1), RangeError);

    assert.throws(() => a.sendBytes(msg, 4, -1), RangeError);
    a.close();
    b.close();
  });

  Deno.test(`${backend}: _TestConnection.test_context`, async () => {
    const [a, b] = mp.Pipe();

    {
      using _a = a;
      using _b = b;
      a.send(1729);
      assert.equal(await b.recv(), 1729);
      assert.ok(!a.closed);
      assert.ok(!b.closed);
    }

    assert.ok(a.closed);
    assert.ok(b.closed);
    await assert.rejects(a.recv(), ProcessError);
    await assert.rejects(b.recv(), ProcessError);
  });
}
