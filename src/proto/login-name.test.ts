import { test } from "node:test";
import assert from "node:assert/strict";
import { loginName, MAX_LOGIN_NAME } from "./login-name.js";

void test("loginName lower-cases the local part and the domain", () => {
  assert.equal(loginName("Alice@Example.TEST"), "alice@example.test");
  assert.equal(loginName("admin"), "admin");
  assert.equal(loginName("ÄNN@example.test"), "änn@example.test");
});

void test("loginName refuses padding, inner whitespace and control characters instead of trimming", () => {
  for (const bad of [
    "",
    " alice@example.test",
    "alice@example.test ",
    "\talice@example.test",
    "alice@example.test\t",
    "alice@example.test\r\n",
    "ali ce@example.test",
    "alice@example.test\0",
    "alice\u00a0@example.test",
    "alice@example.test\u200b",
    "x".repeat(MAX_LOGIN_NAME + 1),
  ])
    assert.equal(loginName(bad), null, JSON.stringify(bad));
  assert.equal(loginName("x".repeat(MAX_LOGIN_NAME)), "x".repeat(MAX_LOGIN_NAME));
});
