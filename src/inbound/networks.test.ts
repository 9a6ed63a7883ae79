import { test } from "node:test";
import assert from "node:assert/strict";
import { parseNetworks } from "./networks.js";

test("relay networks match IPv4, IPv6 and mapped addresses", () => {
  const n = parseNetworks(["127.0.0.0/8", "::1/128", "192.0.2.0/24"]);
  assert.equal(n.contains("127.1.2.3"), true);
  assert.equal(n.contains("::ffff:127.0.0.1"), true);
  assert.equal(n.contains("::1"), true);
  assert.equal(n.contains("192.0.2.77"), true);
  assert.equal(n.contains("198.51.100.1"), false);
  assert.equal(n.contains("::2"), false);
});

test("an empty list trusts nobody; bad entries are refused", () => {
  assert.equal(parseNetworks([]).contains("127.0.0.1"), false);
  assert.throws(() => parseNetworks(["localhost"]), /not an IP/);
  assert.throws(() => parseNetworks(["10.0.0.0/33"]), /prefix/);
});
