import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import { ownsSender } from "./sender-owner.js";
import { openSqliteDirectory } from "./sqlite.js";

void test("sender ownership matches an IDN whether written as U-labels or A-labels", async (t) => {
  const dir = openSqliteDirectory(":memory:", new FakeClock());
  t.after(() => dir.close());
  await dir.addDomain("bücher.test");
  await dir.addAccount("user@bücher.test", "pw");
  await dir.addAlias("info@bücher.test", ["user@bücher.test"]);
  await dir.grantSender("user@bücher.test", "@müller.test");
  for (const from of [
    "user@bücher.test",
    "User@XN--BCHER-KVA.test",
    "info@bücher.test",
    "x@müller.test",
    "x@xn--mller-kva.test",
  ]) {
    assert.equal(await ownsSender(dir, "user@xn--bcher-kva.test", from), true, from);
    assert.equal(await ownsSender(dir, "user@bücher.test", from), true, `${from} (login as U-labels)`);
  }
  assert.equal(await ownsSender(dir, "user@bücher.test", "x@other.test"), false);
});
