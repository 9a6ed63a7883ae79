// The injected resolver as mailauth sees it: answers as node:dns gives them, errors with its codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Resolver } from "../world/resolver.js";
import { mailauthResolver } from "./mailauth-dns.js";

const world: Resolver = {
  resolveMx: () => Promise.resolve({ kind: "ok", records: [{ exchange: "mx.a.test", priority: 5 }] }),
  resolveAddresses: (h) =>
    Promise.resolve(h === "v4.test" ? { kind: "ok", records: ["192.0.2.1"] } : { kind: "nodata" }),
  resolveTxt: (n) =>
    Promise.resolve(
      n === "a.test"
        ? { kind: "ok", records: [["v=spf1 ", "-all"]] }
        : n === "slow.test"
          ? { kind: "temporary", error: "ETIMEOUT" }
          : { kind: "nxdomain" },
    ),
  resolvePtr: (a) => Promise.resolve({ kind: "ok", records: [`host-${a}.test`] }),
};

test("answers and error codes as node:dns", async () => {
  const r = mailauthResolver(world);
  assert.deepEqual(await r("a.test", "TXT"), [["v=spf1 ", "-all"]]);
  assert.deepEqual(await r("a.test", "MX"), [{ exchange: "mx.a.test", priority: 5 }]);
  assert.deepEqual(await r("v4.test", "A"), ["192.0.2.1"]);
  await assert.rejects(r("v4.test", "AAAA"), { code: "ENODATA" });
  await assert.rejects(r("none.test", "TXT"), { code: "ENOTFOUND" });
  await assert.rejects(r("slow.test", "TXT"), { code: "ETIMEOUT" });
  assert.deepEqual(await r("4.3.2.192.in-addr.arpa", "PTR"), ["host-192.2.3.4.test"]);
  const v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
  assert.deepEqual(await r(v6, "PTR"), ["host-2001:0db8:0000:0000:0000:0000:0000:0001.test"]);
});
