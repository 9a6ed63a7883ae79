// Home choice for new accounts: fewest homes first, ties by rendezvous order (so the same inputs
// always give the same backend), nothing live is a refusal, and a requested home must not name
// a member of another role.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeClock } from "../../test/kit/clock.js";
import { chooseHomeBackend, pickHome } from "./homes.js";
import { rendezvousOrder } from "./rendezvous.js";
import { openSqliteClusterState } from "./sqlite-state.js";

test("chooseHomeBackend picks the live backend with the fewest homes", () => {
  const homes = [
    { account: "a@x.test", node: "b1" },
    { account: "b@x.test", node: "b1" },
    { account: "c@x.test", node: "b2" },
    // Homes on a backend that is not live do not count for anyone.
    { account: "d@x.test", node: "gone" },
  ];
  assert.equal(chooseHomeBackend("new@x.test", ["b1", "b2", "b3"], homes), "b3");
  assert.equal(chooseHomeBackend("new@x.test", ["b1", "b2"], homes), "b2");
  assert.equal(chooseHomeBackend("new@x.test", [], homes), null);
});

test("chooseHomeBackend breaks ties by the address's rendezvous order, whatever the input order", () => {
  for (const address of ["alice@x.test", "bob@x.test", "carol@x.test", "dave@x.test"]) {
    const first = rendezvousOrder(address, ["b1", "b2", "b3"])[0];
    assert.equal(chooseHomeBackend(address, ["b1", "b2", "b3"], []), first);
    assert.equal(chooseHomeBackend(address, ["b3", "b1", "b2"], []), first);
    assert.equal(chooseHomeBackend(address.toUpperCase(), ["b2", "b3", "b1"], []), first);
  }
});

test("pickHome: requested home checked against the members, else chosen, else refused", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-homes-"));
  const clock = new FakeClock(1_000_000);
  const state = openSqliteClusterState(join(dir, "state.db"), clock);
  t.after(async () => {
    await state.close();
    await rm(dir, { recursive: true, force: true });
  });
  const member = (id: string, role: "frontend" | "backend") => ({
    id,
    role,
    smtp: "127.0.0.1:25",
    http: "127.0.0.1:80",
    channel: role === "backend" ? "127.0.0.1:24" : null,
    submitMessages: "default",
    startedAt: clock.now(),
  });
  await state.register(member("f1", "frontend"));
  await state.register(member("b1", "backend"));
  assert.deepEqual(await pickHome(state, { address: "a@x.test", requested: "b1", liveBackends: [] }), {
    node: "b1",
  });
  // Not yet joined: allowed, as `cluster home` allows it.
  assert.deepEqual(await pickHome(state, { address: "a@x.test", requested: "b9", liveBackends: [] }), {
    node: "b9",
  });
  const f = await pickHome(state, { address: "a@x.test", requested: "f1", liveBackends: ["b1"] });
  assert.ok("refused" in f && /f1 is a frontend/.test(f.refused));
  assert.deepEqual(await pickHome(state, { address: "a@x.test", liveBackends: ["b1"] }), { node: "b1" });
  const none = await pickHome(state, { address: "a@x.test", liveBackends: [] });
  assert.ok("refused" in none && /no live backend/.test(none.refused));
});
