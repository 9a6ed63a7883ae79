// The milter codec: command frames byte for byte, a reply stream decoded at every split point,
// and hostile replies (bad lengths, unterminated strings, unknown codes) turned into errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BODY_CHUNK,
  FrameDecoder,
  MAX_FRAME,
  encodeBody,
  encodeConnect,
  encodeHeader,
  encodeMacros,
  encodeMail,
  encodeOptneg,
  frame,
  replyOf,
  type MilterReply,
  type RawFrame,
} from "./codec.js";

const hex = (b: Buffer): string => b.toString("hex");

void test("commands are framed as length, command byte and data", () => {
  assert.equal(hex(encodeOptneg(0x1ff, 0x3f)), "0000000d" + "4f" + "00000006" + "000001ff" + "0000003f");
  assert.deepEqual(encodeMail("a@b.test", ["SIZE=10"]), frame("M", Buffer.from("<a@b.test>\0SIZE=10\0")));
  assert.deepEqual(encodeHeader("Subject", "hi"), Buffer.from("\0\0\0\x0cLSubject\0hi\0", "latin1"));
  assert.deepEqual(
    encodeConnect("client.test", "192.0.2.1", 2525),
    Buffer.concat([Buffer.from("\0\0\0\x1aCclient.test\x004\x09\xdd192.0.2.1\0", "latin1")]),
  );
  assert.deepEqual(encodeConnect("h", "::1", 1).subarray(7, 8), Buffer.from("6"));
  assert.deepEqual(encodeMacros("C", { j: "mx.test" }), frame("D", Buffer.from("Cj\0mx.test\0")));
});

void test("a body piece is split into SMFIC_BODY frames of at most 65535 bytes", () => {
  const piece = Buffer.alloc(BODY_CHUNK * 2 + 10, 0x61);
  const frames = encodeBody(piece);
  assert.deepEqual(
    frames.map((f) => f.readUInt32BE(0) - 1),
    [BODY_CHUNK, BODY_CHUNK, 10],
  );
  assert.deepEqual(Buffer.concat(frames.map((f) => f.subarray(5))), piece);
  assert.deepEqual(encodeBody(Buffer.alloc(0)), []);
});

const replyStream = Buffer.concat([
  frame("O", Buffer.from("000000060000003f00000010", "hex"), Buffer.from("\0\0\0\x01j {x}\0")),
  frame("c"),
  frame("h", Buffer.from("X-Spam\0Yes\0")),
  frame("m", Buffer.from("00000001", "hex"), Buffer.from("Subject\0\0")),
  frame("i", Buffer.from("00000000", "hex"), Buffer.from("X-First\0v\0")),
  frame("e", Buffer.from("<new@s.test>\0")),
  frame("+", Buffer.from("<x@r.test>\0")),
  frame("2", Buffer.from("<y@r.test>\0NOTIFY=NEVER\0")),
  frame("-", Buffer.from("z@r.test\0")),
  frame("b", Buffer.from("new body\r\n")),
  frame("q", Buffer.from("looks odd\0")),
  frame("y", Buffer.from("554 5.7.1 Spam\0")),
  frame("p"),
  frame("s"),
  frame("a"),
  frame("r"),
  frame("t"),
  frame("d"),
]);

const expected: MilterReply[] = [
  { kind: "optneg", version: 6, actions: 0x3f, protocol: 0x10 },
  { kind: "continue" },
  { kind: "addheader", name: "X-Spam", value: "Yes" },
  { kind: "chgheader", index: 1, name: "Subject", value: "" },
  { kind: "insheader", index: 0, name: "X-First", value: "v" },
  { kind: "chgfrom", from: "new@s.test", args: "" },
  { kind: "addrcpt", rcpt: "x@r.test", args: "" },
  { kind: "addrcpt", rcpt: "y@r.test", args: "NOTIFY=NEVER" },
  { kind: "delrcpt", rcpt: "z@r.test" },
  { kind: "replbody", chunk: Buffer.from("new body\r\n") },
  { kind: "quarantine", reason: "looks odd" },
  { kind: "replycode", code: 554, text: "5.7.1 Spam" },
  { kind: "progress" },
  { kind: "skip" },
  { kind: "accept" },
  { kind: "reject" },
  { kind: "tempfail" },
  { kind: "discard" },
];

const decodeAll = (pieces: Buffer[]): MilterReply[] => {
  const d = new FrameDecoder();
  const frames: RawFrame[] = [];
  for (const p of pieces) {
    const got = d.push(p);
    assert.ok(typeof got !== "string", typeof got === "string" ? got : "");
    frames.push(...got);
  }
  return frames.map((f) => {
    const r = replyOf(f);
    assert.ok(typeof r !== "string", typeof r === "string" ? r : "");
    return r;
  });
};

void test("every reply decodes the same whatever the split point", () => {
  assert.deepEqual(decodeAll([replyStream]), expected);
  for (let i = 0; i <= replyStream.length; i++) {
    assert.deepEqual(
      decodeAll([replyStream.subarray(0, i), replyStream.subarray(i)]),
      expected,
      `split at ${i}`,
    );
  }
  // One byte at a time.
  assert.deepEqual(decodeAll([...replyStream].map((b) => Buffer.from([b]))), expected);
});

void test("a bad length is an error and stops the decoder", () => {
  const d = new FrameDecoder();
  assert.equal(typeof d.push(Buffer.from("00000000", "hex")), "string");
  assert.equal(typeof d.push(frame("c")), "string");
  const big = Buffer.allocUnsafe(4);
  big.writeUInt32BE(MAX_FRAME + 1, 0);
  assert.equal(typeof new FrameDecoder().push(big), "string");
  // Garbage read as a length: "HTTP" is 0x48545450, far over the limit.
  assert.equal(typeof new FrameDecoder().push(Buffer.from("HTTP/1.1 400\r\n")), "string");
});

void test("malformed replies are errors, not values", () => {
  const bad = (cmd: string, data: string): void => {
    assert.equal(typeof replyOf({ cmd, data: Buffer.from(data, "latin1") }), "string", `${cmd} ${data}`);
  };
  bad("O", "\0\0\0\x06");
  bad("h", "X-Spam\0Yes");
  bad("h", "Bad Name\0v\0");
  bad("h", "Colon:\0v\0");
  bad("m", "\0\0");
  bad("y", "250 ok\0");
  bad("y", "554 unterminated");
  bad("+", "\0");
  bad("Z", "");
});
