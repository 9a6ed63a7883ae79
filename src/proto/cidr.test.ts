import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCidr } from "./cidr.js";

test("addresses and networks of both families; the bare address is its own /32 or /128", () => {
  assert.deepEqual(parseCidr("10.0.0.0/8"), { address: "10.0.0.0", prefix: 8, family: "ipv4" });
  assert.deepEqual(parseCidr(" 192.0.2.1 "), { address: "192.0.2.1", prefix: 32, family: "ipv4" });
  assert.deepEqual(parseCidr("::1"), { address: "::1", prefix: 128, family: "ipv6" });
  assert.deepEqual(parseCidr("2001:db8::/32"), { address: "2001:db8::", prefix: 32, family: "ipv6" });
  assert.deepEqual(parseCidr("0.0.0.0/0"), { address: "0.0.0.0", prefix: 0, family: "ipv4" });
});

test("what is not a network says why; an empty or odd prefix is never read as /0", () => {
  for (const bad of ["example.test", "10.0.0.0/8/8", "", "10.0.0/8"])
    assert.equal(parseCidr(bad), "is not an IP address or CIDR", bad);
  for (const bad of ["10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/ 8", "10.0.0.0/0x8"])
    assert.equal(parseCidr(bad), "has a bad prefix length", bad);
});
