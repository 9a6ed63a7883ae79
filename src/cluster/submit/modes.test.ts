import { test } from "node:test";
import assert from "node:assert/strict";
import {
  clusterDefaultMode,
  memberLog,
  memberMode,
  offersSubmit,
  resolveMode,
  type ClusterKind,
  type EffectiveMode,
  type SubmitMode,
} from "./modes.js";
import type { Role } from "../state.js";

test("default resolves as the seed says for non-members, dynamic frontends and dynamic backends", () => {
  const cases: [Role, ClusterKind, boolean, EffectiveMode][] = [
    // Not a dynamic-cluster member: Locally, whatever the others do.
    ["single", "static", true, "Locally"],
    ["single", "dynamic", true, "Locally"],
    ["frontend", "static", true, "Locally"],
    ["backend", "static", true, "Locally"],
    // Dynamic frontend: Locally for Others.
    ["frontend", "dynamic", false, "Locally for Others"],
    ["frontend", "dynamic", true, "Locally for Others"],
    // Dynamic backend: Remotely when another member is Locally for Others, else Locally.
    ["backend", "dynamic", true, "Remotely"],
    ["backend", "dynamic", false, "Locally"],
  ];
  for (const [role, kind, others, want] of cases) {
    assert.equal(
      resolveMode({ id: "n", role, mode: "default" }, "default", kind, others),
      want,
      `${role} ${kind} ${others}`,
    );
  }
});

test("an explicit value wins; a node's default takes the cluster default first", () => {
  for (const mode of ["Locally", "Locally for Others", "Remotely"] as const) {
    assert.equal(resolveMode({ id: "n", role: "backend", mode }, "Locally", "dynamic", true), mode);
    assert.equal(resolveMode({ id: "n", role: "backend", mode: "default" }, mode, "static", false), mode);
  }
});

test("only members that resolve to Locally for Others take remote submissions", () => {
  const o = (role: Role, mode: SubmitMode, def: SubmitMode, kind: ClusterKind) =>
    offersSubmit({ id: "x", role, mode }, def, kind);
  assert.equal(o("frontend", "default", "default", "dynamic"), true);
  assert.equal(o("frontend", "default", "default", "static"), false);
  assert.equal(
    o("backend", "default", "default", "dynamic"),
    false,
    "a dynamic backend's default is never LfO",
  );
  assert.equal(o("backend", "Locally for Others", "default", "static"), true);
  assert.equal(o("frontend", "default", "Locally for Others", "static"), true);
  assert.equal(o("frontend", "Remotely", "Locally for Others", "dynamic"), false);
});

test("settings are read per node, then cluster-wide, then from the node's own config", () => {
  const s = new Map([
    ["cluster.submitMessages", "Remotely"],
    ["cluster.submitMessages@b1", "Locally"],
    ["cluster.submitMessages@b2", "nonsense"],
    ["cluster.submitLog", "low"],
    ["cluster.submitLog@b1", "all"],
  ]);
  assert.equal(memberMode(s, "b1", "Remotely"), "Locally");
  assert.equal(memberMode(s, "b2", "Locally"), "default", "an unreadable value is default");
  assert.equal(memberMode(s, "b3", "Locally for Others"), "Locally for Others");
  assert.equal(clusterDefaultMode(s), "Remotely");
  assert.equal(clusterDefaultMode(new Map()), "default");
  assert.equal(memberLog(s, "b1", "problem"), "all");
  assert.equal(memberLog(s, "b2", "problem"), "low");
  assert.equal(memberLog(new Map(), "b2", "problem"), "problem");
});
