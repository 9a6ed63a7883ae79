// The AUTH lines and the choice of mechanism (RFC 4954, 4616), and the AUTH keyword of EHLO.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseExtensions } from "./extensions.js";
import { chooseMechanism, loginPassword, loginUser, plainCommand } from "./sasl.js";

const ehlo = (text: string) => parseExtensions({ code: 250, enhanced: null, text });

void test("EHLO AUTH gives the mechanisms in upper case, in either form; junk is dropped", () => {
  assert.deepEqual(ehlo("mx\nAUTH PLAIN login CRAM-MD5").auth, ["PLAIN", "LOGIN", "CRAM-MD5"]);
  assert.deepEqual(ehlo("mx\nAUTH=LOGIN PLAIN").auth, ["LOGIN", "PLAIN"]);
  assert.deepEqual(ehlo("mx\nAUTH LOGIN\nAUTH=LOGIN PLAIN").auth, ["LOGIN", "PLAIN"]);
  assert.deepEqual(ehlo("mx\nAUTH").auth, []);
  assert.deepEqual(ehlo("mx\nAUTH a$b " + "X".repeat(21)).auth, []);
  assert.deepEqual(ehlo("mx\nPIPELINING").auth, []);
  // The greeting line is not an extension, even when it reads like one.
  assert.deepEqual(ehlo("AUTH PLAIN\nPIPELINING").auth, []);
});

void test("PLAIN when offered, else LOGIN, else none", () => {
  assert.equal(chooseMechanism(["LOGIN", "PLAIN"]), "PLAIN");
  assert.equal(chooseMechanism(["CRAM-MD5", "LOGIN"]), "LOGIN");
  assert.equal(chooseMechanism(["CRAM-MD5", "XOAUTH2"]), null);
  assert.equal(chooseMechanism([]), null);
});

void test("PLAIN's initial response is NUL user NUL password; LOGIN sends each in base64", () => {
  const c = { username: "relay@isp.test", password: "pa:ss wörd" };
  const line = plainCommand(c);
  assert.match(line, /^AUTH PLAIN [A-Za-z0-9+/=]+\r\n$/);
  const decoded = Buffer.from(line.slice("AUTH PLAIN ".length, -2), "base64").toString("utf8");
  assert.equal(decoded, "\0relay@isp.test\0pa:ss wörd");
  assert.equal(Buffer.from(loginUser(c).trim(), "base64").toString("utf8"), "relay@isp.test");
  assert.equal(Buffer.from(loginPassword(c).trim(), "base64").toString("utf8"), "pa:ss wörd");
});
