// scrypt hashing: format, salt, verification, malformed and tampered hashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hashPassword, verifyPassword } from "./password.js";

void test("hash format, random salt, verify right and wrong", async () => {
  const a = await hashPassword("pässword");
  const b = await hashPassword("pässword");
  assert.match(a, /^scrypt\$16384\$8\$1\$[^$]+\$[^$]+$/);
  assert.notEqual(a, b, "salts differ");
  assert.equal(Buffer.from(a.split("$")[4]!, "base64").length, 16);
  assert.equal(await verifyPassword("pässword", a), true);
  assert.equal(await verifyPassword("password", a), false);
  assert.equal(await verifyPassword("", a), false);
});

void test("unknown user and malformed hashes never match", async () => {
  assert.equal(await verifyPassword("mailyard-dummy-password", null), false);
  assert.equal(await verifyPassword("x", "plain"), false);
  assert.equal(
    await verifyPassword("x", "scrypt$3$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA=="),
    false,
    "N not a power of two",
  );
  assert.equal(
    await verifyPassword("x", "scrypt$1073741824$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA=="),
    false,
    "N too big",
  );
});
