import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTlsRptRecord } from "./tls-rpt.js";

void test("the _smtp._tls record: mailto: addresses of rua, other schemes apart", () => {
  assert.deepEqual(
    parseTlsRptRecord([["v=TLSRPTv1; rua=mailto:tls@example.test,https://r.example.test/x"]]),
    {
      kind: "record",
      record: { mailto: ["tls@example.test"], other: ["https://r.example.test/x"] },
    },
  );
  assert.deepEqual(parseTlsRptRecord([["v=TLSRPTv1;", "rua=mailto:a%40b@x.test, mailto:ok@x.test"]]), {
    kind: "record",
    record: { mailto: ["ok@x.test"], other: [] },
  });
  assert.deepEqual(parseTlsRptRecord([["v=spf1 -all"]]), { kind: "none" });
  assert.equal(
    parseTlsRptRecord([["v=TLSRPTv1; rua=mailto:a@x.test"], ["v=TLSRPTv1; rua=mailto:b@x.test"]]).kind,
    "invalid",
  );
  assert.equal(parseTlsRptRecord([["v=TLSRPTv1;"]]).kind, "invalid");
  assert.equal(parseTlsRptRecord([["v=TLSRPTv1; rua=mailto:%zz@x.test"]]).kind, "record");
});
