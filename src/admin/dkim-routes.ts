// Admin API routes for the DKIM signing keys in the shared state (src/delivery/dkim/store.ts),
// the WebAdmin's counterpart of `mailyard dkim`: list, generate (answers the DNS TXT record to
// publish, RFC 6376 §3.6.1) and remove. A key is shown as its public part only: the private
// key never leaves the store through this API (no answer, no log line carries it).
import { z } from "zod";
import {
  defaultSelector,
  dnsName,
  dnsRecord,
  generateDkimKeyAsync,
  isDomain,
  isSelector,
  type DkimKey,
} from "../delivery/dkim/keys.js";
import type { DkimKeyStore } from "../delivery/dkim/store.js";
import { ApiError, ok, parseBody, type Route } from "../http/api.js";

/** What a key looks like to the API: every field but the private key. */
export interface ShownDkimKey {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: string;
  readonly created: number;
  /** Where the TXT record goes: SELECTOR._domainkey.DOMAIN. */
  readonly dnsName: string;
  /** The TXT record's text: v=DKIM1; k=...; p=... */
  readonly record: string;
}

export const shownKey = (k: DkimKey): ShownDkimKey => ({
  domain: k.domain,
  selector: k.selector,
  algorithm: k.algorithm,
  created: k.createdAt,
  dnsName: dnsName(k),
  record: dnsRecord(k),
});

const name = (d: string): string => d.trim().toLowerCase().replace(/\.$/, "");

const keygen = z.strictObject({
  domain: z.string().min(1).max(253),
  selector: z.string().min(1).max(253).optional(),
  algorithm: z.enum(["rsa", "ed25519"]).optional(),
});

export function dkimRoutes(store: DkimKeyStore, now: () => number): Route[] {
  return [
    {
      method: "GET",
      pattern: "dkim",
      handler: async () => ok({ keys: (await store.list()).map(shownKey) }),
    },
    {
      method: "POST",
      pattern: "dkim",
      handler: async (req) => {
        const body = parseBody(keygen, req.body);
        const domain = name(body.domain);
        if (!isDomain(domain)) throw new ApiError(400, `domain: not a domain name: ${body.domain}`);
        const at = now();
        const selector = name(body.selector ?? defaultSelector(at));
        if (!isSelector(selector)) throw new ApiError(400, `selector: not a selector: ${selector}`);
        const key = await generateDkimKeyAsync(domain, selector, body.algorithm ?? "rsa", at);
        if (!(await store.add(key)))
          throw new ApiError(409, `${domain} already has a key with selector ${selector}`);
        return ok(shownKey(key), 201);
      },
    },
    {
      method: "DELETE",
      pattern: "dkim/:domain/:selector",
      handler: async (req) => {
        const domain = name(req.params["domain"] ?? "");
        const selector = name(req.params["selector"] ?? "");
        if ((await store.remove(domain, selector)) === 0)
          throw new ApiError(404, `no DKIM key for ${domain} selector ${selector}`);
        return ok({ removed: { domain, selector } });
      },
    },
  ];
}
