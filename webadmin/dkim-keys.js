// The Mail page's DKIM panel: the signing keys in the shared state (every frontend signs with
// them), each with the DNS TXT record to publish at SELECTOR._domainkey.DOMAIN; a form that
// generates a key (POST /api/dkim) and shows its record; Remove. The private keys never reach
// the page: the API answers the public part only.
import { html, useState } from "./vendor/preact-htm.js";
import { api, seg } from "./api.js";
import { Err, messageOf } from "./error.js";
import { withValue } from "./events.js";
import { time } from "./format.js";
import { useLoad } from "./load.js";

/** @typedef {import("./api-types.js").DkimKey} DkimKey */
/** @typedef {import("./api-types.js").DkimKeys} DkimKeys */

export function DkimKeys() {
  const [list, error, reload] = useLoad(() => /** @type {Promise<DkimKeys>} */ (api("GET", "dkim")), []);
  const [f, setF] = useState({ domain: "", selector: "", algorithm: "rsa" });
  const [made, setMade] = useState(/** @type {DkimKey | null} */ (null));
  const [msg, setMsg] = useState("");
  const [busy, setBusy] = useState(false);

  const generate = async () => {
    setMsg("");
    setMade(null);
    setBusy(true);
    try {
      const body = {
        domain: f.domain,
        algorithm: f.algorithm,
        ...(f.selector ? { selector: f.selector } : {}),
      };
      setMade(/** @type {DkimKey} */ (await api("POST", "dkim", body)));
      setF({ ...f, domain: "", selector: "" });
      reload();
    } catch (e) {
      setMsg(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  /** @param {DkimKey} k */
  const remove = async (k) => {
    if (
      !confirm(
        `Remove the key ${k.selector} of ${k.domain}? Mail already signed with it stops verifying once its TXT record is gone.`,
      )
    )
      return;
    setMsg("");
    try {
      await api("DELETE", `dkim/${seg(k.domain)}/${seg(k.selector)}`);
      setMsg(`removed ${k.selector} of ${k.domain}`);
      if (made && made.domain === k.domain && made.selector === k.selector) setMade(null);
      reload();
    } catch (e) {
      setMsg(messageOf(e));
    }
  };

  return html`<div class="panel" id="dkim">
    <h3>DKIM signing keys</h3>
    <p class="note">
      Mail relayed out for a domain with a key is signed (RFC 6376; the newest key of the domain signs) by the
      node that relays it: a single server or a frontend. Publish each key's TXT record before relying on it;
      a new key signs within a minute. Same keys as \`mailyard dkim list\`.
    </p>
    <${Err} text=${error} />
    ${
      list &&
      (list.keys.length === 0
        ? html`<p id="dkim-none">No keys: mail goes out unsigned.</p>`
        : html`<table id="dkim-keys">
            <tr>
              <th>domain</th>
              <th>selector</th>
              <th>algorithm</th>
              <th>created</th>
              <th>TXT record</th>
              <th></th>
            </tr>
            ${list.keys.map(
              (k) =>
                html`<tr data-key=${`${k.domain}/${k.selector}`}>
                  <td>${k.domain}</td>
                  <td>${k.selector}</td>
                  <td>${k.algorithm}</td>
                  <td>${time(k.created)}</td>
                  <td>
                    <div class="dns-name">${k.dnsName}</div>
                    <code class="record">${k.record}</code>
                  </td>
                  <td><button class="remove" onClick=${() => remove(k)}>Remove</button></td>
                </tr>`,
            )}
          </table>`)
    }
    <form
      id="dkim-keygen"
      onSubmit=${(/** @type {Event} */ ev) => {
        ev.preventDefault();
        generate();
      }}
    >
      <label
        >domain
        <input name="domain" value=${f.domain} onInput=${withValue((domain) => setF({ ...f, domain }))}
      /></label>
      <label
        >selector
        <input
          name="selector"
          placeholder="myYYYYMM"
          value=${f.selector}
          onInput=${withValue((selector) => setF({ ...f, selector }))}
      /></label>
      <select
        name="algorithm"
        value=${f.algorithm}
        onChange=${withValue((algorithm) => setF({ ...f, algorithm }))}
      >
        <option value="rsa">RSA 2048</option>
        <option value="ed25519">Ed25519 (RFC 8463)</option>
      </select>
      <button type="submit" disabled=${busy}>Generate key</button>
    </form>
    ${
      made &&
      html`<div id="dkim-new">
        <p>Publish this TXT record at <strong class="dns-name">${made.dnsName}</strong>:</p>
        <code class="record">${made.record}</code>
      </div>`
    }
    <p id="dkim-msg" class="msg">${msg}</p>
  </div>`;
}
