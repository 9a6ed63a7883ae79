import { test } from "node:test";
import assert from "node:assert/strict";
import { formatHostPort, parseHostPort } from "./hostport.js";

test("parseHostPort reads names, IPv4 and bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:2525"), { host: "127.0.0.1", port: 2525 });
  assert.deepEqual(parseHostPort("[::1]:25"), { host: "::1", port: 25 });
  assert.deepEqual(parseHostPort("mx.example.test", 25), { host: "mx.example.test", port: 25 });
  assert.equal(formatHostPort({ host: "::1", port: 25 }), "[::1]:25");
});

test("parseHostPort refuses what is not host:port", () => {
  assert.throws(() => parseHostPort("mx.example.test"), /not host:port/);
  assert.throws(() => parseHostPort("a:99999"), /not host:port/);
  assert.throws(() => parseHostPort("::1:25"), /not host:port/);
});
