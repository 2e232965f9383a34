// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// CPython's ChallengeResponseTest, ported for the handshake of
// connection.ts (_net/handshake.ts; see _util.ts for how). CPython runs it
// once; here once per backend, although it starts no process, so that
// every class counts on both.
//
// CPython calls its internal _create_response(authkey, message) and
// _verify_challenge(authkey, message, response). The handshake here keeps
// those inside answerChallenge and deliverChallenge, which make their own
// random challenge: so the response is made by answerChallenge given the
// test's message by a fake connection, and verified as _verify_challenge
// does, with the HMAC of the digest the response names (MD5 when it names
// none) computed here by node:crypto.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { answerChallenge } from "../_net/handshake.ts";
import { BACKENDS, latin } from "./_util.ts";

const AUTHKEY = latin("supadupasecretkey");
const decoder = new TextDecoder();

/** _create_response: what answerChallenge answers to `message`. */
async function createResponse(message: Uint8Array): Promise<Uint8Array> {
  let response: Uint8Array | undefined;
  let count = 0;
  await answerChallenge({
    recvBytes() {
      count += 1;
      return Promise.resolve(
        count === 1
          ? new Uint8Array([...latin("#CHALLENGE#"), ...message])
          : latin("#WELCOME#"),
      );
    },
    sendBytes(bytes) {
      response = bytes;
      return Promise.resolve();
    },
  }, AUTHKEY);
  return response!;
}

/** _verify_challenge: throws unless `response` is the right answer. */
function verifyChallenge(message: Uint8Array, response: Uint8Array): void {
  const named = /^\{(\w+)\}/.exec(decoder.decode(response.subarray(0, 12)));
  const digest = named?.[1] ?? "md5";
  const mac = response.subarray(named ? named[0].length : 0);
  const expected = createHmac(digest, AUTHKEY).update(message).digest();
  assert.deepEqual(mac, new Uint8Array(expected), "digest received was wrong");
}

for (const backend of BACKENDS) {
  Deno.test(
    `${backend}: ChallengeResponseTest.test_challengeresponse`,
    async (t) => {
      for (const algo of [null, "md5", "sha256"]) {
        await t.step(`algo=${algo}`, async () => {
          // The length of a legacy message.
          let msg = latin("is-twenty-bytes-long");
          const prefix = algo ? latin(`{${algo}}`) : latin("");
          msg = new Uint8Array([...prefix, ...msg]);
          const response = await createResponse(msg);
          assert.deepEqual(response.subarray(0, prefix.length), prefix);
          verifyChallenge(msg, response);
        });
      }
    },
  );
}
