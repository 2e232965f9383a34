// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's OtherTest (deliver_challenge and answer_challenge against a
// peer that answers garbage), ported for the handshake of connection.ts
// (_net/handshake.ts; see _util.ts for how). CPython runs it once; here
// once per backend, although it starts no process, so that every class
// counts on both.
//
// CPython's fake connection has recv_bytes and send_bytes: here a
// ByteChannel, the handshake's view of a connection.
import assert from "node:assert/strict";
import { answerChallenge, deliverChallenge } from "../_net/handshake.ts";
import { AuthenticationError } from "../errors.ts";
import { BACKENDS, latin } from "./_util.ts";

/** multiprocessing.connection._CHALLENGE. */
const CHALLENGE = latin("#CHALLENGE#");

for (const backend of BACKENDS) {
  Deno.test(
    `${backend}: OtherTest.test_deliver_challenge_auth_failure`,
    async () => {
      const fakeConnection = {
        recvBytes: () => Promise.resolve(latin("something bogus")),
        sendBytes: () => Promise.resolve(),
      };
      await assert.rejects(
        deliverChallenge(fakeConnection, latin("abc")),
        AuthenticationError,
      );
    },
  );

  Deno.test(
    `${backend}: OtherTest.test_answer_challenge_auth_failure`,
    async () => {
      let count = 0;
      const fakeConnection = {
        recvBytes() {
          count += 1;
          if (count === 1) return Promise.resolve(CHALLENGE);
          if (count === 2) return Promise.resolve(latin("something bogus"));
          return Promise.resolve(latin(""));
        },
        sendBytes: () => Promise.resolve(),
      };
      await assert.rejects(
        answerChallenge(fakeConnection, latin("abc")),
        AuthenticationError,
      );
    },
  );
}
