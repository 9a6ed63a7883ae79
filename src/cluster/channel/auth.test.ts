import { test } from "node:test";
import assert from "node:assert/strict";
import { proof } from "../secret.js";
import { authCommand, checkAuth, greetingText, nonceOf, offersAuth } from "./auth.js";

const SECRET = "0123456789abcdef-secret";
const NONCE = "0123456789abcdef0123456789abcdef";

test("the greeting carries the nonce; other greetings have none", () => {
  assert.equal(nonceOf(greetingText("b1.test", NONCE)), NONCE);
  assert.equal(nonceOf("vm Dovecot (Debian) ready."), null);
  assert.equal(nonceOf(`b1 LMTP ${NONCE.toUpperCase()}`), null);
  assert.equal(nonceOf(""), null);
});

test("a proof made by authCommand passes checkAuth, for that nonce, node and secret only", () => {
  const arg = authCommand(SECRET, NONCE, "fe1").slice("AUTH ".length, -2);
  assert.deepEqual(checkAuth(SECRET, NONCE, arg), { ok: true, nodeId: "fe1" });
  assert.deepEqual(
    checkAuth(SECRET, NONCE, arg.toLowerCase().replace("x-mailyard-hmac", "x-MAILYARD-hmac")),
    {
      ok: true,
      nodeId: "fe1",
    },
  );
  const codes = (a: string, nonce = NONCE, secret = SECRET): number => {
    const r = checkAuth(secret, nonce, a);
    return r.ok ? 235 : r.reply.code;
  };
  assert.equal(codes(arg, "f".repeat(32)), 535);
  assert.equal(codes(arg, NONCE, "another secret entirely"), 535);
  assert.equal(codes(arg.replace("fe1", "fe2")), 535);
  assert.equal(codes(`X-MAILYARD-HMAC fe1 ${proof(SECRET, "api", NONCE, "fe1")}`), 535);
  assert.equal(codes("X-MAILYARD-HMAC fe1"), 501);
  assert.equal(codes(`${arg} extra`), 501);
  assert.equal(codes("PLAIN AGZvbwBiYXI="), 504);
  assert.equal(codes(""), 504);
});

test("offersAuth reads the LHLO keywords, not the greeting name", () => {
  assert.ok(offersAuth("b1\nPIPELINING\nAUTH X-MAILYARD-HMAC"));
  assert.ok(offersAuth("b1\nauth plain x-mailyard-hmac"));
  assert.ok(!offersAuth("AUTH X-MAILYARD-HMAC\nPIPELINING"));
  assert.ok(!offersAuth("b1\nAUTH PLAIN LOGIN"));
});
