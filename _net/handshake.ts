// Copyright 2026 the multiprocessing for Deno authors. MIT license.
// The challenge-response that opens every connection to a socket of the
// library, in CPython's format (`deliver_challenge` / `answer_challenge` of
// `multiprocessing/connection.py`), so that the same code can speak to a
// Python `Listener` or `Client`.
//
// The server sends `#CHALLENGE#{sha256}` and 40 random bytes; the client
// answers `{sha256}` and the HMAC-SHA256, under the shared key, of all that
// follows `#CHALLENGE#`; the server says `#WELCOME#` or `#FAILURE#`. Then
// the two swap roles, so each end knows the other holds the key. Python up to
// 3.11 sends 20 random bytes with no digest name and answers with a raw
// HMAC-MD5 (16 bytes): a message of 16 or 20 bytes is that legacy form, as
// CPython tells them apart, and both are understood here. MD5 and SHA-3 come
// from `node:crypto`, loaded only when a peer uses them; SHA-2 from Web
// Crypto.
//
// The messages travel on a {@linkcode ByteChannel}: on a socket of this
// library and on a Python connection alike, each message is a 4-byte
// big-endian length and the bytes ({@linkcode connChannel}), read exactly, so
// that what follows the handshake is left for the connection's own reader.
//
// Everything is made by one self-contained function, so that a Worker started
// from a Blob (which cannot import modules without read permission) can
// evaluate the same code: see {@linkcode HANDSHAKE_SOURCE}.
import { AuthenticationError, EOFError } from "../errors.ts";

/** What the handshake needs of a connection: whole messages each way. */
export interface ByteChannel {
  /** Sends one message. */
  sendBytes(bytes: Uint8Array): Promise<void>;
  /**
   * The next message; rejects when it is longer than `maxLength` bytes or
   * the connection ended.
   */
  recvBytes(maxLength: number): Promise<Uint8Array>;
}

/** The digests a challenge may name (CPython's `_ALLOWED_DIGESTS`). */
export type DigestName = "md5" | "sha256" | "sha384" | "sha3_256" | "sha3_384";

/** The functions of this module, as {@linkcode handshakeKit} makes them. */
export interface HandshakeKit {
  deliverChallenge(
    channel: ByteChannel,
    authkey: Uint8Array,
    digest?: DigestName,
  ): Promise<void>;
  answerChallenge(channel: ByteChannel, authkey: Uint8Array): Promise<void>;
  serverHandshake(channel: ByteChannel, authkey: Uint8Array): Promise<void>;
  clientHandshake(channel: ByteChannel, authkey: Uint8Array): Promise<void>;
  connChannel(conn: Deno.Conn): ByteChannel;
}

/** The error classes the kit throws (passed in: it imports nothing). */
interface KitErrors {
  auth: new (message: string) => Error;
  eof: new (message: string) => Error;
}

/**
 * Makes the handshake's functions. It refers to nothing outside itself, so
 * that its source runs anywhere (see {@linkcode HANDSHAKE_SOURCE}).
 */
function handshakeKit(errors: KitErrors): HandshakeKit {
  const encoder = new TextEncoder();
  const CHALLENGE = encoder.encode("#CHALLENGE#");
  const WELCOME = encoder.encode("#WELCOME#");
  const FAILURE = encoder.encode("#FAILURE#");
  const MESSAGE_LENGTH = 40;
  const LEGACY_MESSAGE_LENGTH = 20;
  const MD5_LENGTH = 16;
  const MAX_DIGEST_NAME = 8;
  // What one side may send in the handshake: Python reads at most this much.
  const MAX_MESSAGE = 256;
  const ALLOWED = ["md5", "sha256", "sha384", "sha3_256", "sha3_384"];
  const WEB_CRYPTO: Record<string, string> = {
    sha256: "SHA-256",
    sha384: "SHA-384",
  };

  const concat = (...parts: Uint8Array[]): Uint8Array => {
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  };
  const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean =>
    bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
  // Takes as long whatever the bytes, so that the time of a failure says
  // nothing of how much of a digest was right.
  const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean => {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  };
  const show = (bytes: Uint8Array): string =>
    JSON.stringify(
      new TextDecoder().decode(bytes.subarray(0, 40)).replace(
        /[^\x20-\x7e]/g,
        "?",
      ),
    );

  const hmac = async (
    digest: string,
    key: Uint8Array,
    message: Uint8Array,
  ): Promise<Uint8Array> => {
    const hash = WEB_CRYPTO[digest];
    if (hash && key.length > 0) {
      const cryptoKey = await crypto.subtle.importKey(
        "raw",
        key as Uint8Array<ArrayBuffer>,
        { name: "HMAC", hash },
        false,
        ["sign"],
      );
      return new Uint8Array(
        await crypto.subtle.sign(
          "HMAC",
          cryptoKey,
          message as Uint8Array<ArrayBuffer>,
        ),
      );
    }
    const { createHmac } = await import("node:crypto");
    return new Uint8Array(
      createHmac(digest.replace("_", "-"), key).update(message).digest(),
    );
  };

  /**
   * The digest a message names and what follows the name; "" for the
   * legacy form, which has no name and means HMAC-MD5 (CPython's
   * `_get_digest_name_and_payload`).
   */
  const digestOf = (message: Uint8Array): [string, Uint8Array] => {
    if (
      message.length === LEGACY_MESSAGE_LENGTH || message.length === MD5_LENGTH
    ) {
      return ["", message];
    }
    if (message[0] === 0x7b) {
      const curly = message.subarray(0, MAX_DIGEST_NAME + 2).indexOf(0x7d, 1);
      if (curly > 0) {
        const name = new TextDecoder().decode(message.subarray(1, curly));
        if (ALLOWED.includes(name)) return [name, message.subarray(curly + 1)];
      }
    }
    throw new errors.auth(
      `Unsupported handshake message ${
        show(message)
      }: its length is not a legacy one, and it names no digest of ${
        ALLOWED.join(", ")
      }`,
    );
  };

  /** The answer to a challenge's `message` (CPython's `_create_response`). */
  const responseTo = async (
    key: Uint8Array,
    message: Uint8Array,
  ): Promise<Uint8Array> => {
    const [digest] = digestOf(message);
    if (!digest) return await hmac("md5", key, message);
    return concat(
      encoder.encode(`{${digest}}`),
      await hmac(digest, key, message),
    );
  };

  const deliverChallenge = async (
    channel: ByteChannel,
    authkey: Uint8Array,
    digest: DigestName = "sha256",
  ): Promise<void> => {
    if (!ALLOWED.includes(digest)) {
      throw new TypeError(
        `Unknown digest ${JSON.stringify(digest)}: use one of ${
          ALLOWED.join(", ")
        }`,
      );
    }
    // "md5" is the legacy challenge: 20 bytes, no digest name.
    const message = digest === "md5"
      ? crypto.getRandomValues(new Uint8Array(LEGACY_MESSAGE_LENGTH))
      : concat(
        encoder.encode(`{${digest}}`),
        crypto.getRandomValues(new Uint8Array(MESSAGE_LENGTH)),
      );
    await channel.sendBytes(concat(CHALLENGE, message));
    const response = await channel.recvBytes(MAX_MESSAGE);
    let ok = false;
    try {
      const [named, mac] = digestOf(response);
      const expected = await hmac(named || "md5", authkey, message);
      ok = constantTimeEqual(expected, mac);
    } catch {
      // An answer of no form we know is a wrong answer.
    }
    if (!ok) {
      await channel.sendBytes(FAILURE).catch(() => {});
      throw new errors.auth(
        "The peer's answer to the challenge was wrong: it does not hold this authkey",
      );
    }
    await channel.sendBytes(WELCOME);
  };

  const answerChallenge = async (
    channel: ByteChannel,
    authkey: Uint8Array,
  ): Promise<void> => {
    const challenge = await channel.recvBytes(MAX_MESSAGE);
    if (!startsWith(challenge, CHALLENGE)) {
      throw new errors.auth(
        `Protocol error: expected a challenge, got ${show(challenge)}`,
      );
    }
    const message = challenge.subarray(CHALLENGE.length);
    if (message.length < LEGACY_MESSAGE_LENGTH) {
      throw new errors.auth(
        `The challenge is too short: ${message.length} bytes, at least ${LEGACY_MESSAGE_LENGTH} expected`,
      );
    }
    await channel.sendBytes(await responseTo(authkey, message));
    const verdict = await channel.recvBytes(MAX_MESSAGE);
    if (!constantTimeEqual(verdict, WELCOME)) {
      throw new errors.auth(
        "The peer rejected this process's answer: the two do not hold the same authkey",
      );
    }
  };

  const readExactly = async (
    conn: Deno.Conn,
    length: number,
  ): Promise<Uint8Array> => {
    const bytes = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      const n = await conn.read(bytes.subarray(at));
      if (n === null) {
        throw new errors.eof(
          "The connection closed during the authentication handshake",
        );
      }
      at += n;
    }
    return bytes;
  };

  const connChannel = (conn: Deno.Conn): ByteChannel => ({
    async sendBytes(bytes) {
      const out = new Uint8Array(4 + bytes.length);
      new DataView(out.buffer).setInt32(0, bytes.length);
      out.set(bytes, 4);
      let at = 0;
      while (at < out.length) at += await conn.write(out.subarray(at));
    },
    async recvBytes(maxLength) {
      const header = await readExactly(conn, 4);
      const length = new DataView(header.buffer).getInt32(0);
      if (length < 0 || length > maxLength) {
        throw new errors.auth(
          `Bad message length in the handshake: ${length} bytes, at most ${maxLength} allowed`,
        );
      }
      return await readExactly(conn, length);
    },
  });

  return {
    deliverChallenge,
    answerChallenge,
    // A listener checks its peer first, then lets itself be checked;
    // CPython's `Listener.accept` and `Client` do the same.
    serverHandshake: async (channel, authkey) => {
      await deliverChallenge(channel, authkey);
      await answerChallenge(channel, authkey);
    },
    clientHandshake: async (channel, authkey) => {
      await answerChallenge(channel, authkey);
      await deliverChallenge(channel, authkey);
    },
    connChannel,
  };
}

const kit = handshakeKit({ auth: AuthenticationError, eof: EOFError });

/**
 * Challenges the peer on `channel` to prove it holds `authkey` (CPython's
 * `deliver_challenge`): sends `#CHALLENGE#{digest}` and 40 random bytes (20
 * bytes and no name for `"md5"`, Python 3.11's form), checks the answer in
 * constant time, and sends `#WELCOME#` or `#FAILURE#`.
 *
 * @throws {AuthenticationError} When the answer is wrong.
 * @throws {EOFError} When the connection ends first.
 */
export const deliverChallenge: HandshakeKit["deliverChallenge"] =
  kit.deliverChallenge;

/**
 * Answers the peer's challenge on `channel` with `authkey` (CPython's
 * `answer_challenge`), in the form the challenge asks: `{digest}` and the
 * HMAC, or a raw HMAC-MD5 for a legacy 20-byte challenge.
 *
 * @throws {AuthenticationError} When the peer rejects the answer.
 * @throws {EOFError} When the connection ends first.
 */
export const answerChallenge: HandshakeKit["answerChallenge"] =
  kit.answerChallenge;

/** The listening end: challenges the peer, then answers its challenge. */
export const serverHandshake: HandshakeKit["serverHandshake"] =
  kit.serverHandshake;

/** The connecting end: answers the listener's challenge, then challenges it. */
export const clientHandshake: HandshakeKit["clientHandshake"] =
  kit.clientHandshake;

/**
 * A {@linkcode ByteChannel} on `conn`: each message a 4-byte big-endian
 * length and its bytes (a Python `Connection`'s framing), read exactly.
 */
export const connChannel: HandshakeKit["connChannel"] = kit.connChannel;

/**
 * JavaScript that evaluates to a {@linkcode HandshakeKit} whose errors are
 * plain `Error`s, for a Worker made from a Blob.
 */
export const HANDSHAKE_SOURCE: string =
  `(${handshakeKit})({auth: Error, eof: Error})`;

/**
 * A new random key of 32 bytes, as a process tree's authkey.
 */
export function newAuthkey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

let authkey: Uint8Array | undefined;

/** This process's authkey: its parent's, or new in the main process. */
export function ownAuthkey(): Uint8Array {
  return authkey ??= newAuthkey();
}

/** Called once in a child, before anything uses the key. */
export function adoptAuthkey(key: Uint8Array): void {
  authkey = new Uint8Array(key);
}
