import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_V1_LENGTH, MAX_V2_BLOCK, parseProxyHeader, type ProxyHeader } from "./proxy-header.js";

const SIG = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

/** A v2 header: version/command byte, family/transport byte, then the block (length from it). */
function v2(verCmd: number, fam: number, block: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(block.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, fam]), len, block]);
}

function inet4Block(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

function inet6Block(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(src, "hex").copy(b, 0);
  Buffer.from(dst, "hex").copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

const reason = (h: ProxyHeader): string => (h.kind === "invalid" ? h.reason : `not invalid: ${h.kind}`);

/** Every strict prefix of a valid header is incomplete; the whole is what was expected. */
function assertTruncations(header: Buffer): void {
  for (let n = 0; n < header.length; n++) {
    assert.deepEqual(parseProxyHeader(header.subarray(0, n)), { kind: "incomplete" }, `prefix of ${n} bytes`);
  }
}

test("v1 TCP4: source, destination and the bytes consumed; what follows is not part of it", () => {
  const line = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 25\r\n";
  const h = parseProxyHeader(Buffer.from(`${line}EHLO client.test\r\n`));
  assert.deepEqual(h, {
    kind: "proxied",
    version: 1,
    source: { address: "192.0.2.10", port: 56324 },
    destination: { address: "198.51.100.1", port: 25 },
    consumed: line.length,
  });
  assertTruncations(Buffer.from(line));
});

test("v1 TCP6: addresses in canonical form, dotted tails accepted", () => {
  const line = "PROXY TCP6 2001:0DB8:0:0:0:0:0:1 ::ffff:198.51.100.1 65535 0\r\n";
  assert.deepEqual(parseProxyHeader(Buffer.from(line)), {
    kind: "proxied",
    version: 1,
    source: { address: "2001:db8::1", port: 65535 },
    destination: { address: "::ffff:198.51.100.1", port: 0 },
    consumed: line.length,
  });
  assertTruncations(Buffer.from(line));
});

test("v1 longest lines: 104-byte TCP6 and 107-byte UNKNOWN are accepted", () => {
  const v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const tcp6 = `PROXY TCP6 ${v6} ${v6} 65535 65535\r\n`;
  assert.equal(tcp6.length, 104);
  const h = parseProxyHeader(Buffer.from(tcp6));
  assert.equal(h.kind, "proxied");
  const unknown = `PROXY UNKNOWN ${v6} ${v6} 65535 65535\r\n`;
  assert.equal(unknown.length, MAX_V1_LENGTH);
  assert.deepEqual(parseProxyHeader(Buffer.from(unknown)), { kind: "local", version: 1, consumed: 107 });
});

test("v1 UNKNOWN means the TCP peer, with or without the optional fields", () => {
  assert.deepEqual(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\nQUIT\r\n")), {
    kind: "local",
    version: 1,
    consumed: 15,
  });
  assert.deepEqual(parseProxyHeader(Buffer.from("PROXY UNKNOWN whatever is here\r\n")), {
    kind: "local",
    version: 1,
    consumed: 32,
  });
  assertTruncations(Buffer.from("PROXY UNKNOWN\r\n"));
});

test("v1 oversize: no CRLF within 107 bytes is invalid, at 107 bytes and not before", () => {
  const long = Buffer.from(`PROXY UNKNOWN ${"x".repeat(200)}\r\n`);
  assert.equal(parseProxyHeader(long.subarray(0, MAX_V1_LENGTH - 1)).kind, "incomplete");
  assert.match(reason(parseProxyHeader(long.subarray(0, MAX_V1_LENGTH))), /no CRLF within 107/);
  assert.match(reason(parseProxyHeader(long)), /no CRLF within 107/);
  // 106 bytes then CR: the LF would be byte 108.
  const edge = Buffer.from(`PROXY UNKNOWN ${"x".repeat(MAX_V1_LENGTH - 15)}\r\n`);
  assert.equal(edge.length, MAX_V1_LENGTH + 1);
  assert.equal(parseProxyHeader(edge).kind, "invalid");
});

test("v1 ports: range, leading zeroes, signs and non-digits are refused", () => {
  for (const [sport, dport] of [
    ["65536", "25"],
    ["25", "99999"],
    ["025", "25"],
    ["-1", "25"],
    ["+25", "25"],
    ["", "25"],
    ["2a", "25"],
    ["25", "1e3"],
    ["25", " 25"],
  ]) {
    const h = parseProxyHeader(Buffer.from(`PROXY TCP4 192.0.2.1 192.0.2.2 ${sport} ${dport}\r\n`));
    assert.equal(h.kind, "invalid", `${sport} ${dport}`);
  }
});

test("v1 addresses must match the protocol family and be canonical", () => {
  for (const line of [
    "PROXY TCP4 ::1 192.0.2.2 1 2", // v6 under TCP4
    "PROXY TCP6 192.0.2.1 ::1 1 2", // v4 under TCP6
    "PROXY TCP4 192.0.2.01 192.0.2.2 1 2", // leading zero (octal confusion)
    "PROXY TCP4 256.0.0.1 192.0.2.2 1 2",
    "PROXY TCP4 192.0.2 192.0.2.2 1 2",
    "PROXY TCP4 localhost 192.0.2.2 1 2",
    "PROXY TCP6 fe80::1%eth0 ::1 1 2", // zone index
    "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2",
  ]) {
    assert.match(reason(parseProxyHeader(Buffer.from(`${line}\r\n`))), /bad TCP[46] address/, line);
  }
});

test("v1 garbage: wrong protocol, field count, spacing, bare CR/LF and control bytes are invalid", () => {
  for (const text of [
    "PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n",
    "PROXY tcp4 192.0.2.1 192.0.2.2 1 2\r\n",
    "PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n",
    "PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n",
    "PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n",
    "PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n",
    "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n",
    "PROXY TCP4 192.0.2.1\r192.0.2.2 1 2\r\n",
    "PROXY UNKNOWN\n",
    "PROXY UNKNOWN \x00\r\n",
    "PROXY UNKNOWN \xff\r\n",
    "PROXY\r\n",
  ]) {
    assert.equal(parseProxyHeader(Buffer.from(text, "latin1")).kind, "invalid", JSON.stringify(text));
  }
});

test("input that is neither version is invalid at its first differing byte", () => {
  assert.equal(parseProxyHeader(Buffer.alloc(0)).kind, "incomplete");
  assert.equal(parseProxyHeader(Buffer.from("P")).kind, "incomplete");
  assert.equal(parseProxyHeader(Buffer.from("PROX")).kind, "incomplete");
  assert.match(reason(parseProxyHeader(Buffer.from("EHLO client.test\r\n"))), /not a PROXY protocol header/);
  assert.equal(parseProxyHeader(Buffer.from("PROXx")).kind, "invalid");
  assert.equal(parseProxyHeader(Buffer.from("GET / HTTP/1.0\r\n")).kind, "invalid");
  assert.equal(parseProxyHeader(Buffer.from("\r\n\r\nQUIT\r\n")).kind, "invalid");
  assert.equal(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01])).kind, "invalid");
});

test("v2 PROXY TCP over IPv4: addresses, ports, consumed; the client's bytes follow", () => {
  const header = v2(0x21, 0x11, inet4Block([192, 0, 2, 10], [198, 51, 100, 1], 40000, 25));
  assert.equal(header.length, 28);
  assert.deepEqual(parseProxyHeader(Buffer.concat([header, Buffer.from("EHLO x\r\n")])), {
    kind: "proxied",
    version: 2,
    source: { address: "192.0.2.10", port: 40000 },
    destination: { address: "198.51.100.1", port: 25 },
    consumed: 28,
  });
  assertTruncations(header);
});

test("v2 PROXY TCP over IPv6: canonical addresses", () => {
  const header = v2(
    0x21,
    0x21,
    inet6Block("20010db8000000000000000000000001", "00000000000000000000ffffc6336401", 1, 65535),
  );
  assert.deepEqual(parseProxyHeader(header), {
    kind: "proxied",
    version: 2,
    source: { address: "2001:db8::1", port: 1 },
    destination: { address: "::ffff:198.51.100.1", port: 65535 },
    consumed: 52,
  });
  assertTruncations(header);
});

test("v2 TLVs after the addresses are skipped: consumed covers the whole length", () => {
  const tlvs = Buffer.from([0x04, 0x00, 0x03, 1, 2, 3, 0x05, 0x00, 0x02, 9, 9]); // NOOP, UNIQUE_ID
  const header = v2(0x21, 0x11, Buffer.concat([inet4Block([10, 0, 0, 1], [10, 0, 0, 2], 5, 6), tlvs]));
  const h = parseProxyHeader(Buffer.concat([header, Buffer.from("QUIT\r\n")]));
  assert.equal(h.kind, "proxied");
  assert.equal(h.kind === "proxied" && h.consumed, 16 + 12 + tlvs.length);
  assert.equal(h.kind === "proxied" && h.source.address, "10.0.0.1");
});

test("v2 LOCAL uses the TCP peer and skips any address block", () => {
  assert.deepEqual(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))), {
    kind: "local",
    version: 2,
    consumed: 16,
  });
  const withBlock = v2(0x20, 0x11, inet4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
  assert.deepEqual(parseProxyHeader(withBlock), { kind: "local", version: 2, consumed: 28 });
  assertTruncations(withBlock);
});

test("v2 PROXY with AF_UNSPEC, AF_UNIX or UDP falls back to the TCP peer", () => {
  for (const fam of [0x00, 0x01, 0x10, 0x31, 0x32, 0x12, 0x22]) {
    const block =
      fam >> 4 === 3 ? Buffer.alloc(216) : Buffer.alloc(fam >> 4 === 2 ? 36 : fam >> 4 === 1 ? 12 : 0);
    const h = parseProxyHeader(v2(0x21, fam, block));
    assert.deepEqual(h, { kind: "local", version: 2, consumed: 16 + block.length }, `family byte ${fam}`);
  }
});

test("v2 invalid: version, command, family, transport, short blocks", () => {
  const block = inet4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2);
  assert.match(reason(parseProxyHeader(v2(0x11, 0x11, block))), /version is not 2/);
  assert.match(reason(parseProxyHeader(v2(0x31, 0x11, block))), /version is not 2/);
  assert.match(reason(parseProxyHeader(v2(0x22, 0x11, block))), /unknown command/);
  assert.match(reason(parseProxyHeader(v2(0x2f, 0x11, block))), /unknown command/);
  assert.match(reason(parseProxyHeader(v2(0x21, 0x41, block))), /unknown address family/);
  assert.match(reason(parseProxyHeader(v2(0x21, 0x13, block))), /unknown transport/);
  assert.match(reason(parseProxyHeader(v2(0x21, 0x11, block.subarray(0, 11)))), /shorter than 12/);
  assert.match(reason(parseProxyHeader(v2(0x21, 0x21, Buffer.alloc(35)))), /shorter than 36/);
  // Refused as soon as the bad byte is seen, not after waiting for more.
  assert.equal(parseProxyHeader(Buffer.concat([SIG, Buffer.from([0x11])])).kind, "invalid");
  assert.equal(parseProxyHeader(Buffer.concat([SIG.subarray(0, 6), Buffer.from("x")])).kind, "invalid");
});

test("v2 oversize: a length over the bound is refused from the 16-byte header alone", () => {
  const head = Buffer.concat([SIG, Buffer.from([0x21, 0x11]), Buffer.from([0xff, 0xff])]);
  assert.match(reason(parseProxyHeader(head)), /over 2048/);
  const atBound = v2(
    0x21,
    0x11,
    Buffer.concat([inet4Block([1, 1, 1, 1], [2, 2, 2, 2], 1, 2), Buffer.alloc(MAX_V2_BLOCK - 12)]),
  );
  assert.equal(parseProxyHeader(atBound).kind, "proxied");
  assert.equal(parseProxyHeader(atBound.subarray(0, atBound.length - 1)).kind, "incomplete");
  const over = v2(0x21, 0x11, Buffer.alloc(MAX_V2_BLOCK + 1));
  assert.equal(parseProxyHeader(over).kind, "invalid");
});
