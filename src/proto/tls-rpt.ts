// TLS-RPT (RFC 8460) as values: the `_smtp._tls` TXT record (§3) with its rua URIs, and the
// aggregate report (§4.4) as the JSON object sent. The record is untrusted DNS input, bounded by
// DNS; only mailto: URIs with one plain address are kept (https: submission is not done). No I/O.

export interface TlsRptRecord {
  /** Addresses of the rua mailto: URIs, in order. */
  readonly mailto: readonly string[];
  /** rua URIs of other schemes (https:), not used. */
  readonly other: readonly string[];
}

export type TlsRptAnswer =
  | { readonly kind: "record"; readonly record: TlsRptRecord }
  | { readonly kind: "none" }
  | { readonly kind: "invalid"; readonly why: string };

const ADDRESS = /^[^\s@<>(),;:"\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** The TXT records of `_smtp._tls.DOMAIN`, each as its character-strings. */
export function parseTlsRptRecord(records: readonly (readonly string[])[]): TlsRptAnswer {
  const rpt = records.map((r) => r.join("")).filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t));
  if (rpt.length === 0) return { kind: "none" };
  if (rpt.length > 1) return { kind: "invalid", why: "more than one TLSRPTv1 record" };
  let rua: string | null = null;
  for (const field of rpt[0]!.split(";")) {
    const eq = field.indexOf("=");
    if (eq > 0 && field.slice(0, eq).trim() === "rua") rua = field.slice(eq + 1).trim();
  }
  if (rua === null || rua === "") return { kind: "invalid", why: "no rua" };
  const mailto: string[] = [];
  const other: string[] = [];
  for (const uri of rua
    .split(",")
    .map((u) => u.trim())
    .slice(0, 10)) {
    if (/^mailto:/i.test(uri)) {
      let address: string;
      try {
        address = decodeURIComponent(uri.slice(7));
      } catch {
        continue;
      }
      if (ADDRESS.test(address)) mailto.push(address);
    } else if (uri !== "") other.push(uri);
  }
  return { kind: "record", record: { mailto, other } };
}

/** RFC 8460 §4.4, the parts Mailyard fills in. */
export interface TlsRptReport {
  readonly "organization-name": string;
  readonly "date-range": { readonly "start-datetime": string; readonly "end-datetime": string };
  readonly "contact-info": string;
  readonly "report-id": string;
  readonly policies: readonly {
    readonly policy: {
      readonly "policy-type": "sts" | "tlsa" | "no-policy-found";
      readonly "policy-string"?: readonly string[];
      readonly "policy-domain": string;
      readonly "mx-host"?: readonly string[];
    };
    readonly summary: {
      readonly "total-successful-session-count": number;
      readonly "total-failure-session-count": number;
    };
    readonly "failure-details"?: readonly {
      readonly "result-type": string;
      readonly "receiving-mx-hostname"?: string;
      readonly "receiving-ip"?: string;
      readonly "failed-session-count": number;
      readonly "failure-reason-code"?: string;
    }[];
  }[];
}
