import { test } from "node:test";
import assert from "node:assert/strict";
import { renderHaproxyConfig } from "./haproxy.js";

const frontends = [
  { id: "fe1", smtp: "10.0.0.1:25" },
  { id: "fe2", smtp: "[2001:db8::2]:2525" },
];

/** The lines of one section (from its header to the next blank line), trimmed. */
function section(cfg: string, header: string): string[] {
  const lines = cfg.split("\n");
  const start = lines.indexOf(header);
  assert.ok(start >= 0, `no section ${header}`);
  const end = lines.indexOf("", start);
  return lines.slice(start + 1, end < 0 ? undefined : end).map((l) => l.trim());
}

test("v2: TCP mode, leastconn, one checked server per frontend with send-proxy-v2", () => {
  const cfg = renderHaproxyConfig({ listen: "0.0.0.0:25", frontends, proxyVersion: 2 });
  assert.ok(cfg.endsWith("\n"));
  assert.ok(section(cfg, "defaults").includes("mode tcp"));
  assert.ok(section(cfg, "defaults").some((l) => /^timeout client \d+m$/.test(l)));
  assert.deepEqual(section(cfg, "global"), ["maxconn 2000"]);
  const fe = section(cfg, "frontend mailyard_smtp");
  assert.ok(fe.includes("bind 0.0.0.0:25"));
  const be = section(cfg, "backend mailyard_frontends");
  assert.ok(be.includes("balance leastconn"));
  assert.deepEqual(
    be.filter((l) => l.startsWith("server ")),
    ["server fe1 10.0.0.1:25 check send-proxy-v2", "server fe2 [2001:db8::2]:2525 check send-proxy-v2"],
  );
  assert.ok(!cfg.includes("listen stats"));
  assert.ok(!cfg.includes("stick-table"), "no per-client limit unless asked");
  assert.ok(!/^\s*log\b/m.test(cfg), "no syslog");
});

test("v1, maxconn and a stats page", () => {
  const cfg = renderHaproxyConfig({
    listen: "127.0.0.1:2500",
    frontends,
    proxyVersion: 1,
    maxconn: 50,
    statsListen: "127.0.0.1:8404",
  });
  assert.match(cfg, /^\s+server fe1 10\.0\.0\.1:25 check send-proxy$/m);
  assert.doesNotMatch(cfg, /send-proxy-v2/);
  assert.deepEqual(section(cfg, "global"), ["maxconn 50"]);
  const stats = section(cfg, "listen stats");
  assert.ok(
    stats.includes("mode http") && stats.includes("bind 127.0.0.1:8404") && stats.includes("stats enable"),
  );
});

test("a per-client connection limit tracks the real client's address at the balancer", () => {
  const cfg = renderHaproxyConfig({
    listen: "127.0.0.1:25",
    frontends,
    proxyVersion: 2,
    maxConnectionsPerClient: 20,
  });
  const fe = section(cfg, "frontend mailyard_smtp");
  assert.ok(fe.some((l) => /^stick-table type ipv6 .*store conn_cur$/.test(l)));
  assert.ok(fe.includes("tcp-request connection track-sc0 src"));
  assert.ok(fe.includes("tcp-request connection reject if { sc0_conn_cur gt 20 }"));
});

test("node ids become safe, unique server names", () => {
  const cfg = renderHaproxyConfig({
    listen: "127.0.0.1:25",
    frontends: [
      { id: "fe 1", smtp: "10.0.0.1:25" },
      { id: "fe_1", smtp: "10.0.0.2:25" },
      { id: "fe#1", smtp: "10.0.0.3:25" },
    ],
    proxyVersion: 2,
  });
  const names = [...cfg.matchAll(/^\s+server (\S+) /gm)].map((m) => m[1]);
  assert.deepEqual(names, ["fe_1", "fe_1-2", "fe_1-3"]);
});

test("no frontends still renders a valid config (an empty backend)", () => {
  const cfg = renderHaproxyConfig({ listen: "127.0.0.1:25", frontends: [], proxyVersion: 2 });
  assert.ok(section(cfg, "backend mailyard_frontends").every((l) => !l.startsWith("server ")));
});

test("unusable addresses and maxconn are refused", () => {
  const bad = (o: Partial<Parameters<typeof renderHaproxyConfig>[0]>, re: RegExp) =>
    assert.throws(
      () => renderHaproxyConfig({ listen: "127.0.0.1:25", frontends, proxyVersion: 2, ...o }),
      re,
    );
  bad({ listen: "nowhere" }, /listen: "nowhere" is not host:port/);
  bad({ listen: "127.0.0.1:0" }, /not a usable/);
  bad({ listen: "a b:25" }, /listen/);
  bad({ frontends: [{ id: "x", smtp: "0.0.0.0:25" }] }, /wildcard/);
  bad({ frontends: [{ id: "x", smtp: "[::]:25" }] }, /wildcard/);
  bad({ frontends: [{ id: "x", smtp: "10.0.0.1:25 backup" }] }, /frontend x/);
  bad({ statsListen: "stats" }, /statsListen/);
  bad({ maxconn: 0 }, /maxconn/);
  bad({ maxConnectionsPerClient: 1.5 }, /maxConnectionsPerClient/);
});

test("source: the balancer connects to the frontends from the given address; no keywords smuggled in", () => {
  const cfg = renderHaproxyConfig({
    listen: "127.0.0.1:2525",
    frontends,
    proxyVersion: 2,
    source: "127.0.0.2",
  });
  assert.ok(section(cfg, "backend mailyard_frontends").includes("source 127.0.0.2"));
  assert.ok(
    !renderHaproxyConfig({ listen: "127.0.0.1:2525", frontends, proxyVersion: 2 }).includes("source "),
  );
  assert.throws(
    () =>
      renderHaproxyConfig({
        listen: "127.0.0.1:2525",
        frontends,
        proxyVersion: 2,
        source: "1.2.3.4 usesrc x",
      }),
    /source/,
  );
});

test("port 465: a TCP frontend passing TLS through to the frontends' submissions listeners, checked over TLS", () => {
  const cfg = renderHaproxyConfig({
    listen: "0.0.0.0:25",
    submissionsListen: "0.0.0.0:465",
    frontends: [
      { id: "fe1", smtp: "10.0.0.1:25", submissions: "10.0.0.1:465" },
      { id: "fe2", smtp: "10.0.0.2:25", submissions: "" },
      { id: "fe3", smtp: "[2001:db8::3]:25", submissions: "[2001:db8::3]:4465" },
    ],
    proxyVersion: 2,
    maxConnectionsPerClient: 5,
    source: "127.0.0.2",
  });
  const fe = section(cfg, "frontend mailyard_submissions");
  assert.ok(fe.includes("bind 0.0.0.0:465"));
  assert.ok(fe.includes("default_backend mailyard_frontends_submissions"));
  assert.ok(fe.includes("tcp-request connection reject if { sc0_conn_cur gt 5 }"));
  const be = section(cfg, "backend mailyard_frontends_submissions");
  assert.ok(be.includes("balance leastconn") && be.includes("source 127.0.0.2"));
  assert.ok(be.includes("option smtpchk EHLO localhost"));
  // No "ssl" on the server line: the client's TLS goes through untouched; only the check speaks TLS.
  assert.deepEqual(
    be.filter((l) => l.startsWith("server ")),
    [
      "server fe1 10.0.0.1:465 check check-ssl verify none send-proxy-v2",
      "server fe3 [2001:db8::3]:4465 check check-ssl verify none send-proxy-v2",
    ],
  );
  // Port 25 is unchanged: every frontend, no TLS check.
  assert.equal(section(cfg, "backend mailyard_frontends").filter((l) => l.startsWith("server ")).length, 3);
  assert.doesNotMatch(section(cfg, "backend mailyard_frontends").join("\n"), /ssl/);

  const without = renderHaproxyConfig({ listen: "0.0.0.0:25", frontends, proxyVersion: 1 });
  assert.ok(!without.includes("mailyard_submissions"), "no 465 unless asked");
  assert.throws(
    () =>
      renderHaproxyConfig({
        listen: "0.0.0.0:25",
        submissionsListen: "0.0.0.0:465",
        frontends: [{ id: "x", smtp: "10.0.0.1:25", submissions: "0.0.0.0:465" }],
        proxyVersion: 2,
      }),
    /frontend x: 0\.0\.0\.0:465 is a wildcard/,
  );
  assert.throws(
    () => renderHaproxyConfig({ listen: "0.0.0.0:25", submissionsListen: "465", frontends, proxyVersion: 2 }),
    /submissionsListen/,
  );
});
