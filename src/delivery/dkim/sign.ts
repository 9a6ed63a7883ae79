// DKIM signing (RFC 6376 §5; Ed25519: RFC 8463) and ARC sealing (RFC 8617) of mail the relay
// channel sends out, on the nodes that relay to the Internet (single servers and frontends;
// backends hand their mail to the frontends unsigned, so every message is signed once).
// - DKIM: the key is chosen by the From: domain, else its nearest parent domain that has one
//   (an organisational key, RFC 7489 §3.2 relaxed alignment); the newest key of that domain.
// - ARC: a message that carries our own Authentication-Results (it came from outside and was
//   checked here, src/inbound/authentication.ts) and still leaves for a remote domain is being
//   forwarded (an alias, a server or account rule's redirect): it gets an ARC set (i = the
//   chain's next instance) so the next hop can trust our verdicts when DKIM or SPF no longer
//   align (RFC 8617 §1). The ARC-Authentication-Results are our results; cv is the chain's state
//   as we validated it on receipt (our arc= verdict: pass, or none for the first set); a failed
//   chain is not sealed further (§5.1.2). The sealing key is an RSA key (RFC 8617 §4.1.3 names
//   rsa-sha256 only) of the forwarding domain: the alias's or redirecting account's domain,
//   else the hostname's.
// Cost, measured in docs/BENCHMARKS.md ("Filters and signing"): one pass over the spooled
// message hashes the body as it streams (message-pass.ts), the signature is made off the event
// loop with a key parsed once (signature.ts), and a message is signed once: the signature is
// kept by queue id (bounded) for its other destinations and later attempts while its key stays
// the same. A small message's chunks from that pass are sent as they are (no second read).
// A message that cannot be signed goes out unsigned (logged, counted): signing is never a
// reason to hold mail. Keys are cached for CACHE_MS, so a new key signs within a minute.
import { Readable } from "node:stream";
import { sealMessage } from "mailauth";
import type { Log } from "../../log/logger.js";
import type { Metrics } from "../../log/metrics.js";
import { headerFields, parseAddressList, type HeaderField } from "../../proto/header-fields.js";
import type { DeliveryJob } from "../../queue/types.js";
import type { Clock } from "../../world/clock.js";
import type { DkimKey } from "./keys.js";
import type { DkimKeyStore } from "./store.js";
import { readForSigning } from "./message-pass.js";
import { dkimSignatureField, keyId, keyObjects } from "./signature.js";

const CACHE_MS = 60_000;
/** Messages up to this size have the chunks of the signing pass sent as read (the spool keeps as much in memory). */
const KEEP_BYTES = 1024 * 1024;
/** Signatures kept for a message's other destinations and retries: at most this many, */
const SIGNED_MAX = 4096;
/** and at most this many bytes of header sections (kept for the ARC plan of each route). */
const SIGNED_MAX_BYTES = 8 * 1024 * 1024;
/** RFC 8617 §4.2.1: at most 50 ARC sets. */
const MAX_ARC_INSTANCE = 50;
/** The trace field account rules put on what they redirect (src/rules/account-run.ts). */
const REDIRECTED_BY = "x-mailyard-redirected-by";

export interface DkimSigner {
  /** The job's body as it should be sent: signed (and sealed) when keys apply, else as stored. */
  body(job: DeliveryJob): Promise<() => Readable>;
}

/** A header section as text (without its blank line), or its fields parsed once already. */
type Header = string | readonly HeaderField[];
const fieldsOf = (header: Header): readonly HeaderField[] =>
  typeof header === "string" ? headerFields(Buffer.from(header + "\r\n\r\n", "latin1")) : header;
const domainOf = (address: string): string => address.slice(address.lastIndexOf("@") + 1).toLowerCase();

/** The From: domain (single author; RFC 6376 §5.4 and RFC 7489 §3.1 need exactly one). */
export function fromDomain(header: Header): string | null {
  const from = fieldsOf(header).filter((f) => f.name.toLowerCase() === "from");
  const addresses = from.flatMap((f) => parseAddressList(f.value));
  if (from.length !== 1 || addresses.length !== 1) return null;
  return domainOf(addresses[0]!);
}

/** The domain and its parents down to two labels, nearest first. */
export const candidateDomains = (domain: string): string[] => {
  const labels = domain.split(".");
  const out: string[] = [];
  for (let i = 0; labels.length - i >= 2; i++) out.push(labels.slice(i).join("."));
  return out;
};

export interface ArcPlan {
  /** Our Authentication-Results, unfolded, without the field name (authserv-id first). */
  readonly authResults: string;
  readonly cv: "none" | "pass";
  /** Domains whose RSA key may seal, in order of preference. */
  readonly domains: readonly string[];
}

/**
 * Whether and how a message relayed out gets an ARC set: only with our own Authentication-
 * Results (the newest one, which the inbound check put on top), a chain we found valid (or none
 * yet), and room for another instance.
 */
export function arcPlan(header: Header, hostname: string, job: DeliveryJob): ArcPlan | null {
  const fields = fieldsOf(header);
  const ours = fields.find(
    (f) =>
      f.name.toLowerCase() === "authentication-results" &&
      (/^[^\s;]+/.exec(f.value)?.[0] ?? "").toLowerCase() === hostname.toLowerCase(),
  );
  if (ours === undefined) return null;
  const sets = fields.filter((f) => f.name.toLowerCase() === "arc-seal").length;
  if (sets >= MAX_ARC_INSTANCE) return null;
  const arc = (/(?:^|;)\s*arc=([a-z]+)/i.exec(ours.value)?.[1] ?? "none").toLowerCase();
  // A chain we validated, or none yet; a failed or inconsistent one is not sealed further.
  if (!((arc === "pass" && sets > 0) || (arc === "none" && sets === 0))) return null;
  const redirectedBy = fields.find((f) => f.name.toLowerCase() === REDIRECTED_BY)?.value ?? "";
  const forwarders = [
    ...job.recipients.flatMap((r) => (r.rcpt.original !== null ? [domainOf(r.rcpt.original)] : [])),
    ...(redirectedBy.includes("@") ? [domainOf(redirectedBy)] : []),
    hostname.toLowerCase(),
  ];
  return {
    authResults: ours.value,
    cv: arc === "pass" ? "pass" : "none",
    domains: [...new Set(forwarders.flatMap(candidateDomains))],
  };
}

export function createDkimSigner(o: {
  readonly store: DkimKeyStore;
  /** The node's hostname: our authserv-id, and the sealing domain of last resort. */
  readonly hostname: string;
  readonly clock: Clock;
  /** Tagged SMTP. */
  readonly log: Log;
  readonly metrics: Metrics;
}): DkimSigner {
  const cache = new Map<string, { keys: DkimKey[]; until: number }>();
  const keysOf = async (domain: string): Promise<DkimKey[]> => {
    const now = o.clock.now();
    const hit = cache.get(domain);
    if (hit !== undefined && hit.until > now) return hit.keys;
    const keys = await o.store.keysOf(domain);
    if (cache.size > 10_000) cache.clear();
    cache.set(domain, { keys, until: now + CACHE_MS });
    return keys;
  };
  const firstKey = async (
    domains: readonly string[],
    fits: (k: DkimKey) => boolean = () => true,
  ): Promise<DkimKey | null> => {
    for (const d of domains) {
      const key = (await keysOf(d)).find(fits);
      if (key !== undefined) return key;
    }
    return null;
  };

  const privateKeyOf = keyObjects();

  /** What a message's signing pass found; the signature is reused while keyId is the key to sign with. */
  interface Signed {
    /** The header section's fields, and its size (what the cache of these counts). */
    readonly fields: readonly HeaderField[];
    readonly bytes: number;
    readonly domain: string | null;
    readonly key: DkimKey | null;
    readonly field: Buffer | null;
  }
  // Being made (another destination's job waits for it), and made (bounded, oldest out first).
  const signing = new Map<string, Promise<Signed>>();
  const signed = new Map<string, Signed>();
  let signedBytes = 0;
  const keep = (id: string, s: Signed): void => {
    const old = signed.get(id);
    if (old !== undefined) signedBytes -= old.bytes;
    signed.delete(id);
    signed.set(id, s);
    signedBytes += s.bytes;
    for (const [oldest, o] of signed) {
      if (signed.size <= SIGNED_MAX && signedBytes <= SIGNED_MAX_BYTES) break;
      signed.delete(oldest);
      signedBytes -= o.bytes;
    }
  };

  /** The signing pass: header, key, body hash, signature; the chunks read when the message is small. */
  const sign = async (job: DeliveryJob): Promise<{ s: Signed; chunks: readonly Buffer[] | null }> => {
    const seen: { fields: readonly HeaderField[]; domain: string | null; key: DkimKey | null } = {
      fields: [],
      domain: null,
      key: null,
    };
    const pass = await readForSigning(
      job.body(),
      async (header) => {
        seen.fields = headerFields(header);
        seen.domain = fromDomain(seen.fields);
        seen.key = seen.domain === null ? null : await firstKey(candidateDomains(seen.domain));
        return seen.key !== null;
      },
      KEEP_BYTES,
    );
    if (pass === null) throw new Error("the header section does not end");
    const { key } = seen;
    const field =
      key === null || pass.bodyHash === null
        ? null
        : await dkimSignatureField(
            pass.header,
            pass.bodyHash,
            key,
            privateKeyOf(key),
            new Date(o.clock.now()),
          );
    const s = { fields: seen.fields, bytes: pass.header.length, domain: seen.domain, key, field };
    return { s, chunks: pass.chunks };
  };

  /** Whether a signature made earlier still uses the key to sign with now (a rotation signs afresh). */
  const current = async (s: Signed): Promise<boolean> => {
    const now = s.domain === null ? null : await firstKey(candidateDomains(s.domain));
    if (now === null || s.key === null) return now === s.key;
    return keyId(now) === keyId(s.key) && now.privateKey === s.key.privateKey;
  };

  /** The signing pass for this job, registered at once so the message's other jobs wait for it. */
  const start = (id: string, job: DeliveryJob): Promise<{ s: Signed; chunks: readonly Buffer[] | null }> => {
    const made = sign(job);
    const p = made.then((m) => m.s);
    // Its failure is reported by the job that started it; one waiting on it signs afresh.
    p.catch(() => undefined);
    signing.set(id, p);
    const settle = (): void => void (signing.get(id) === p && signing.delete(id));
    return made.then(
      (m) => {
        settle();
        keep(id, m.s);
        return m;
      },
      (e: unknown) => {
        settle();
        throw e;
      },
    );
  };

  /** This job's signing: another job's for the same message if still current, else its own pass. */
  const signedFor = async (job: DeliveryJob): Promise<{ s: Signed; chunks: readonly Buffer[] | null }> => {
    const id = job.envelope.id;
    const earlier = signed.get(id);
    const pending = signing.get(id);
    if (earlier === undefined && pending === undefined) return start(id, job);
    const s = earlier ?? (await pending!.catch(() => null));
    return s !== null && (await current(s)) ? { s, chunks: null } : start(id, job);
  };

  const seal = async (job: DeliveryJob, plan: ArcPlan, key: DkimKey): Promise<Buffer> => {
    const sealed = await sealMessage(job.body(), {
      signingDomain: key.domain,
      selector: key.selector,
      privateKey: key.privateKey,
      algorithm: "rsa-sha256",
      signTime: new Date(o.clock.now()),
      // mailauth's seal options beyond its .d.ts: the results to carry and the chain state.
      ...({ authResults: plan.authResults, cv: plan.cv } as object),
    });
    if (!/^ARC-Seal:/i.test(sealed.toString("latin1"))) throw new Error("no ARC set made");
    return sealed;
  };

  return {
    async body(job) {
      const plain = (): Readable => job.body();
      const id = job.envelope.id;
      try {
        const { s, chunks } = await signedFor(job);
        const plan = arcPlan(s.fields, o.hostname, job);
        const arcKey = plan === null ? null : await firstKey(plan.domains, (k) => k.algorithm === "rsa");
        const added: Buffer[] = [];
        if (plan !== null && arcKey !== null) {
          added.push(await seal(job, plan, arcKey));
          o.log.info("arc sealed", { id, d: arcKey.domain, s: arcKey.selector, cv: plan.cv });
        }
        if (s.key !== null && s.field !== null) {
          added.push(s.field);
          o.metrics.dkimSigning?.("signed");
          o.log.info("dkim signed", { id, d: s.key.domain, s: s.key.selector, a: s.key.algorithm });
        } else o.metrics.dkimSigning?.("no-key");
        if (added.length === 0) return plain;
        const head = Buffer.concat(added);
        if (chunks !== null) {
          const all = [head, ...chunks];
          return () => Readable.from(all, { objectMode: false });
        }
        return () =>
          Readable.from(
            (async function* () {
              yield head;
              for await (const chunk of job.body()) yield chunk as Buffer;
            })(),
          );
      } catch (e) {
        o.metrics.dkimSigning?.("failed");
        o.log.problem("dkim signing failed, sending unsigned", { id, error: String(e) });
        return plain;
      }
    },
  };
}
