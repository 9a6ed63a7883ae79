// The admin API's answers against the types the WebAdmin pages read them with
// (webadmin/api-types.d.ts): each server type must be assignable to the page's, so tsc fails
// the build when a field a page shows is renamed or retyped on the server. The checks are
// types; the test covers the one answer without a static type, the redacted settings.
import assert from "node:assert/strict";
import { test } from "node:test";
import type * as Page from "../../../webadmin/api-types.js";
import type { SubmitSnapshot } from "../../cluster/submit/view.js";
import type { ManagedEntry } from "../../config/managed.js";
import { settingsSchema, type Settings } from "../../config/settings.js";
import type { Account } from "../../directory/directory.js";
import type { RingRecord } from "../../log/ring.js";
import type { QueueEntrySummary } from "../../queue/types.js";
import type { AccountOwner } from "../../cluster/account-placement.js";
import type { MinutePoint } from "../minutes.js";
import { redactSettings, type MemberSummary } from "../node-routes.js";
import type { ShownDkimKey } from "../dkim-routes.js";
import type { ShownMilter } from "../milter-routes.js";

/** Compiles only when the server's type `S` fits the page's type `P`. */
type Fits<S extends P, P> = [S, P];

export type _AnswersFitThePages = [
  Fits<MemberSummary, Page.Member>,
  Fits<{ self: string; role: string; kind: Page.ClusterKind; members: MemberSummary[] }, Page.Members>,
  Fits<SubmitSnapshot, Page.Submit>,
  Fits<Settings, Page.ShownSettings>,
  Fits<ManagedEntry, Page.ManagedEntry>,
  Fits<Account & { home: string | null }, Page.Account>,
  Fits<Account & { owner: AccountOwner | null }, Page.Account>,
  Fits<QueueEntrySummary, Page.QueuedMessage>,
  Fits<QueueEntrySummary & { headers: string | null }, Page.MessageDetail>,
  Fits<MinutePoint, Page.MinutePoint>,
  Fits<RingRecord, Page.Logs["records"][number]>,
  Fits<ShownMilter, Page.Milter>,
  Fits<ShownDkimKey, Page.DkimKey>,
];

void test("the redacted settings keep the shape the Mail page reads", () => {
  const shown = redactSettings(settingsSchema.parse({})) as Page.ShownSettings;
  assert.ok(Array.isArray(shown.smtp.listen) && Array.isArray(shown.submission.listen));
  assert.ok(Array.isArray(shown.smtp.forwardTo) && Array.isArray(shown.smtp.relayNetworks));
  assert.ok(Array.isArray(shown.smtp.proxyProtocolFrom));
  assert.equal(typeof shown.smtp.maxMessageSize, "number");
  assert.equal(typeof shown.smtp.maxRecipients, "number");
  assert.equal(typeof shown.smtp.authChecks, "boolean");
  assert.equal(typeof shown.smtp.dmarcPolicy, "string");
  assert.equal(typeof shown.smtp.spfFail, "string");
  for (const part of [shown.smtp.outbound, shown.queue, shown.local, shown.log])
    assert.equal(typeof part, "object");
});
