// The canonicalisation parts of the `mailauth` library, used one by one instead of its
// dkimSign(): that whole call measured 1.25 ms of event-loop time per 2 KB message (one core of
// the bench machine), of which its relaxed body hash took 0.011 ms and its header
// canonicalisation 0.033 ms; the rest was its stream parser scanning the header byte by byte
// into an array, parsing the PEM key again (0.35 ms) and a synchronous RSA signature (0.30 ms)
// on the event loop. So the canonicalisation stays mailauth's (the code that verifies inbound
// mail, and that the OpenDKIM tests check) and only the driving around it is ours
// (signature.ts). These modules are not in mailauth's typed public API: their shapes are
// declared here, and the DKIM tests (sign.test.ts, test/relay/dkim*.test.ts) fail at once if a
// mailauth release moves them.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** A header field as mailauth's parser yields it: lower-cased name, the raw folded bytes. */
export interface MailauthHeaderLine {
  readonly key: string | null;
  readonly casedKey: string | undefined;
  readonly line: Buffer;
}

export interface MailauthBodyHasher {
  update(chunk: Buffer): void;
  digest(encoding: "base64"): string;
}

/** The tag values of a signature field, as mailauth formats them (b= added after signing). */
export type SignatureTags = Record<string, string | number | boolean | undefined>;

interface Tools {
  parseHeaders(buf: Buffer): { parsed: MailauthHeaderLine[] };
  getSigningHeaderLines(
    parsed: readonly MailauthHeaderLine[],
    fieldNames?: string,
  ): { keys: string; headers: MailauthHeaderLine[] };
  formatSignatureHeaderLine(type: "DKIM", values: SignatureTags, folded: boolean): string;
}

interface HeaderCanon {
  generateCanonicalizedHeader(
    type: "DKIM",
    lines: { keys: string; headers: MailauthHeaderLine[] },
    options: {
      readonly canonicalization: string;
      readonly algorithm: string;
      readonly signingDomain: string;
      readonly selector: string;
      readonly bodyHash: string;
      readonly signTime: Date;
    },
  ): { canonicalizedHeader: Buffer; dkimHeaderOpts: SignatureTags };
}

interface BodyCanon {
  dkimBody(canonicalization: string, hashAlgo: string, maxBodyLength: false): MailauthBodyHasher;
}

const tools = require("mailauth/lib/tools.js") as Tools;
const header = require("mailauth/lib/dkim/header/index.js") as HeaderCanon;
const body = require("mailauth/lib/dkim/body/index.js") as BodyCanon;

export const parseHeaders = (buf: Buffer): MailauthHeaderLine[] => tools.parseHeaders(buf).parsed;
/** mailauth's default signed fields (From, Subject, Date, To, Message-ID, MIME, List-*, …), bottom up. */
export const signingHeaderLines = (parsed: readonly MailauthHeaderLine[]) =>
  tools.getSigningHeaderLines(parsed);
export const canonicalizedHeader: HeaderCanon["generateCanonicalizedHeader"] = (type, lines, options) =>
  header.generateCanonicalizedHeader(type, lines, options);
export const formatSignature = (tags: SignatureTags): string =>
  tools.formatSignatureHeaderLine("DKIM", tags, true);
/** A fresh body hasher: relaxed canonicalisation (RFC 6376 §3.4.4), SHA-256. */
export const relaxedBodyHasher = (): MailauthBodyHasher => body.dkimBody("relaxed", "sha256", false);
