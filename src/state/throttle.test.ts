import { test } from "node:test";
import assert from "node:assert/strict";
import { addressBucket, lockMs } from "./throttle.js";

void test("addresses are counted as themselves (IPv4) or by their /64 (IPv6)", () => {
  assert.equal(addressBucket("198.51.100.7"), "198.51.100.7");
  assert.equal(addressBucket("::ffff:198.51.100.7"), "198.51.100.7");
  assert.equal(addressBucket("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(addressBucket("2001:DB8:1:2::99"), "2001:db8:1:2::/64");
  assert.equal(addressBucket("2001:db8:0001:0002:ffff::1"), "2001:db8:1:2::/64");
  assert.equal(addressBucket("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(addressBucket("::1"), "0:0:0:0::/64");
  assert.equal(addressBucket("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(addressBucket(""), "");
});

void test("locks start at the free count and double up to the maximum", () => {
  const f = { free: 3, baseMs: 1000, maxMs: 8000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 100].map((n) => lockMs(n, f)),
    [0, 0, 1000, 2000, 4000, 8000, 8000, 8000],
  );
});
