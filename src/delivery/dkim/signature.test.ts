// The signing pass and the signature field against mailauth's own dkimSign: the same bytes for
// RSA and Ed25519 (both signature schemes are deterministic), whatever the chunking, with bare
// LFs, trailing blank lines and runs of white space; the key parsed once per key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { dkimSign } from "mailauth";
import { generateDkimKey, type DkimKey } from "./keys.js";
import { fixBareLf, MAX_HEADER_BYTES, readForSigning } from "./message-pass.js";
import { dkimSignatureField, keyObjects } from "./signature.js";

const message = Buffer.from(
  "From: Alice <alice@example.test>\r\nTo: bob@remote.test\r\nSubject:  a   subject \r\n" +
    "Date: Thu, 03 Dec 2026 09:00:00 +0000\r\nMessage-ID: <m1@example.test>\r\n" +
    "X-Unsigned: not in h=\r\n\r\n" +
    "Hello  \t there,\r\n\r\nbare\nline feeds\n\r\n  indented\t \r\n\r\n\r\n",
);
const at = new Date(Date.UTC(2026, 11, 3, 9, 0, 0));
const keys = {
  rsa: generateDkimKey("example.test", "s1", "rsa", 1),
  ed25519: generateDkimKey("example.test", "e1", "ed25519", 2),
};

async function mailauthField(m: Buffer, key: DkimKey): Promise<string> {
  const res = await dkimSign(m, {
    canonicalization: "relaxed/relaxed",
    signTime: at,
    signatureData: [
      {
        signingDomain: key.domain,
        selector: key.selector,
        privateKey: key.privateKey,
        algorithm: key.algorithm === "rsa" ? "rsa-sha256" : "ed25519-sha256",
      },
    ],
  } as unknown as Parameters<typeof dkimSign>[1]);
  return res.signatures.trim() + "\r\n";
}

/** The message as a stream of pieces cut at these offsets. */
const cut = (m: Buffer, at: readonly number[]): Readable => {
  const bounds = [0, ...at, m.length];
  return Readable.from(
    bounds.slice(1).map((end, i) => m.subarray(bounds[i], end)),
    { objectMode: false },
  );
};

async function ours(stream: Readable, key: DkimKey, keep = 1 << 20) {
  const pass = await readForSigning(stream, () => true, keep);
  assert.notEqual(pass, null);
  assert.notEqual(pass!.bodyHash, null);
  const field = await dkimSignatureField(pass!.header, pass!.bodyHash!, key, keyObjects()(key), at);
  return { field: field.toString(), pass: pass! };
}

for (const algorithm of ["rsa", "ed25519"] as const) {
  test(`${algorithm}: the field is byte for byte mailauth's dkimSign, however the message is cut`, async () => {
    const key = keys[algorithm];
    const want = await mailauthField(message, key);
    assert.match(want, new RegExp(`^DKIM-Signature: .*a=${algorithm}-sha256`, "s"));
    assert.equal((await ours(cut(message, []), key)).field, want);
    // Every split point once (the header's blank line, a CR from its LF, a bare LF), and bytewise.
    for (let i = 1; i < message.length; i++)
      assert.equal((await ours(cut(message, [i]), key)).field, want, `cut at ${i}`);
    const bytes = Array.from({ length: message.length - 1 }, (_, i) => i + 1);
    assert.equal((await ours(cut(message, bytes), key)).field, want, "one byte per chunk");
  });
}

test("a message without a body, and one without a blank line, sign as mailauth signs them", async () => {
  const headerOnly = Buffer.from("From: a@example.test\r\nSubject: x\r\n\r\n");
  assert.equal((await ours(cut(headerOnly, []), keys.rsa)).field, await mailauthField(headerOnly, keys.rsa));
  // mailauth makes no signature without a blank line; ours signs an empty body (RFC 6376 §3.4.4).
  const noBlank = await readForSigning(
    cut(Buffer.from("From: a@example.test\r\nSubject: x\r\n"), [5]),
    () => true,
    100,
  );
  assert.equal(noBlank?.header.toString(), "From: a@example.test\r\nSubject: x\r\n");
  const empty = await readForSigning(cut(headerOnly, []), () => true, 100);
  assert.equal(noBlank?.bodyHash, empty?.bodyHash);
});

test("readForSigning: stops at the header when told, keeps only small messages, gives up on an endless header", async () => {
  let reads = 0;
  const counted = Readable.from(
    (function* () {
      for (const piece of [message.subarray(0, 100), message.subarray(100, 200), message.subarray(200)]) {
        reads++;
        yield piece;
      }
    })(),
    { objectMode: false },
  );
  const seen: string[] = [];
  const head = await readForSigning(
    counted,
    (h) => {
      seen.push(h.toString("latin1"));
      return false;
    },
    1 << 20,
  );
  assert.equal(head?.bodyHash, null);
  assert.equal(head?.chunks, null);
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, /X-Unsigned: not in h=\r\n\r\n$/);
  assert.ok(reads < 3, `read ${reads} pieces for the header`);
  const kept = (await ours(cut(message, [10, 300]), keys.rsa)).pass;
  assert.deepEqual(Buffer.concat(kept.chunks ?? []), message, "the chunks read, to send as they are");
  assert.equal((await ours(cut(message, [10, 300]), keys.rsa, message.length - 1)).pass.chunks, null);
  const endless = Readable.from([Buffer.alloc(MAX_HEADER_BYTES + 1, "a")], { objectMode: false });
  assert.equal(await readForSigning(endless, () => true, 0), null);
});

test("fixBareLf: a bare LF becomes CRLF, a CRLF stays, across a chunk boundary too", () => {
  assert.equal(fixBareLf(Buffer.from("a\nb\r\nc\n"), -1).toString(), "a\r\nb\r\nc\r\n");
  assert.equal(fixBareLf(Buffer.from("\nx"), 0x0d).toString(), "\nx", "the CR ended the chunk before");
  assert.equal(fixBareLf(Buffer.from("\nx"), 0x41).toString(), "\r\nx");
  const same = Buffer.from("no line feeds");
  assert.equal(fixBareLf(same, -1), same, "nothing copied when nothing changes");
});

test("keyObjects: one parse per key; a new PEM under the same selector and date is parsed again", () => {
  const of = keyObjects();
  const k = keys.rsa;
  assert.equal(of(k), of({ ...k }), "the same key object for the same key");
  const other = generateDkimKey("example.test", "s1", "rsa", 1);
  assert.notEqual(of(other), of(k));
  assert.equal(of(other).asymmetricKeyType, "rsa");
});
