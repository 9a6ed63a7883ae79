// Settings → Mail: one node's settings as it runs them (read-only, secrets redacted), its managed
// settings (stored cluster-wide or for the node, PUT /api/config), its milters, the inbound
// authentication policy, the cluster's DKIM signing keys, the picked node's server-wide rules
// (only that node runs them) and the cluster-wide rules.
import { html, useState } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { Err, messageOf } from "../error.js";
import { withValue } from "../events.js";
import { DkimKeys } from "../dkim-keys.js";
import { bytes } from "../format.js";
import { useLoad } from "../load.js";
import { MilterList } from "../milters.js";
import { NodePicker } from "../node-picker.js";
import { RuleText } from "../rule-text.js";

/** @typedef {import("../api-types.js").ConfigStored} ConfigStored */
/** @typedef {import("../api-types.js").ManagedEntry} ManagedEntry */
/** @typedef {import("../api-types.js").NodeSettings} NodeSettings */
/** @typedef {{ key: string, scope: "cluster" | "node", text: string }} Edit */

/** @param {{ obj: object }} props */
const Kv = ({ obj }) =>
  html`<dl class="kv">
    ${Object.entries(obj).map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd>${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}</dd>`,
    )}
  </dl>`;

/** @type {Readonly<Record<string, string>>} */
const SOURCE = {
  config: "config file",
  cluster: "cluster-wide",
  node: "this node",
  "environment or --set": "environment or --set (wins)",
};
/** @param {unknown} v */
const shownValue = (v) => (v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : String(v));

/**
 * The managed settings (SMTP, queue, local delivery) of one node: what it runs with and where
 * that comes from, and a form that stores a value cluster-wide or for this node through
 * PUT /api/config (text as in the environment: lists comma-separated), or removes it.
 * @param {{ node: string, entries: readonly ManagedEntry[], reload: () => void }} props
 */
function ManagedSettings({ node, entries, reload }) {
  const [edit, setEdit] = useState(/** @type {Edit | null} */ (null));
  const [msg, setMsg] = useState("");
  /** @type {(key: string, scope: Edit["scope"], text: string | null) => Promise<void>} */
  const store = async (key, scope, text) => {
    setMsg("");
    try {
      const body = { key, ...(scope === "node" ? { node } : {}) };
      const r = /** @type {ConfigStored} */ (
        await api("PUT", "config", text === null ? { ...body, value: null } : { ...body, text })
      );
      const where = scope === "node" ? `for ${node}` : "cluster-wide";
      setMsg(
        text === null
          ? `${key}: ${where} value removed`
          : `${key} = ${shownValue(r.value)} ${where}: ${r.applies === "live" ? "applied live" : "applies when the node restarts"}`,
      );
      setEdit(null);
      reload();
    } catch (e) {
      setMsg(messageOf(e));
    }
  };
  return html`<div class="panel" id="managed-settings">
    <h3>Managed settings</h3>
    <p class="note">
      Stored in the cluster state over each node's config file; a value given to a node by environment or
      --set still wins there. Live keys apply at once on every member; the others when the node restarts
      (shown as pending until then).
    </p>
    <table>
      <tr>
        <th>setting</th>
        <th>in effect on ${node}</th>
        <th>from</th>
        <th>cluster-wide</th>
        <th>for ${node}</th>
        <th>applies</th>
        <th></th>
      </tr>
      ${entries.map(
        (e) =>
          html`<tr data-key=${e.key}>
            <td>${e.key}</td>
            <td class="value">
              ${shownValue(e.value)}${e.pending ? html` <em class="pending">(pending restart)</em>` : ""}
            </td>
            <td class="source">${SOURCE[e.source] || e.source}</td>
            <td>
              ${shownValue(e.cluster)}
              ${
                e.cluster !== null &&
                html` <button class="unset-cluster" onClick=${() => store(e.key, "cluster", null)}>
                  Remove
                </button>`
              }
            </td>
            <td>
              ${shownValue(e.node)}
              ${e.node !== null && html` <button class="unset-node" onClick=${() => store(e.key, "node", null)}>Remove</button>`}
            </td>
            <td>${e.applies}</td>
            <td>
              <button
                class="edit"
                onClick=${() => setEdit({ key: e.key, scope: "cluster", text: shownValue(e.value) })}
              >
                Change
              </button>
            </td>
          </tr>`,
      )}
    </table>
    ${
      edit &&
      html`<form
        id="managed-edit"
        onSubmit=${(/** @type {Event} */ ev) => {
          ev.preventDefault();
          store(edit.key, edit.scope, edit.text);
        }}
      >
        <label
          >${edit.key}
          <input name="text" value=${edit.text} onInput=${withValue((text) => setEdit({ ...edit, text }))}
        /></label>
        <select
          name="scope"
          value=${edit.scope}
          onChange=${withValue((v) => setEdit({ ...edit, scope: /** @type {Edit["scope"]} */ (v) }))}
        >
          <option value="cluster">cluster-wide</option>
          <option value="node">for ${node} only</option>
        </select>
        <button type="submit">Save</button>
        <button type="button" onClick=${() => setEdit(null)}>Cancel</button>
      </form>`
    }
    <p id="managed-msg" class="msg">${msg}</p>
  </div>`;
}

export function MailPage() {
  const [node, setNode] = useState("");
  // Re-read every 5 s: a change stored here reaches other members within about a second.
  const [s, error, reload] = useLoad(
    () =>
      node
        ? /** @type {Promise<NodeSettings>} */ (api("GET", `nodes/${seg(node)}/settings`))
        : Promise.resolve(null),
    [node],
    5000,
  );
  const set = s && s.settings;
  return html`<h2>Mail</h2>
    <div class="row"><${NodePicker} value=${node} onChange=${setNode} /></div>
    <${Err} text=${error} />
    ${s && html`<${ManagedSettings} node=${s.node} entries=${s.managed || []} reload=${reload} />`}
    <p class="note">
      All of the node's effective settings (config file, environment, --set, managed settings). Secrets are
      not shown. The Submit Messages and Remote Submit Log settings are changed live on the Cluster page.
    </p>
    ${
      set &&
      html`<div id="mail-settings">
        <div class="panel">
          <h3>SMTP (receiving and relaying)</h3>
          <${Kv}
            obj=${{
              listeners: set.smtp.listen.join(", ") || "(none)",
              submission: set.submission.listen.join(", ") || "(off)",
              "forwarding server": set.smtp.forwardTo.length
                ? set.smtp.forwardTo.join(", ") +
                  (set.smtp.forwardTo.includes("*") ? "  (* = the cluster's frontends)" : "")
                : "(direct MX delivery)",
              "relay networks": set.smtp.relayNetworks.join(", ") || "(none)",
              "PROXY protocol from": set.smtp.proxyProtocolFrom.join(", ") || "(none)",
              "max message size": bytes(set.smtp.maxMessageSize),
              "max recipients": set.smtp.maxRecipients,
            }}
          />
        </div>
        <div class="panel" id="mail-auth">
          <h3>Inbound authentication (SPF, DKIM, DMARC, ARC)</h3>
          <p class="note">
            Checked on mail from outside on single servers and frontends. Managed settings: change them in the
            table above (they apply live).
          </p>
          <${Kv}
            obj=${{
              "checks (smtp.authChecks)": set.smtp.authChecks ? "on" : "off",
              "DMARC policy (smtp.dmarcPolicy)": set.smtp.dmarcPolicy,
              "SPF fail (smtp.spfFail)": set.smtp.spfFail,
            }}
          />
        </div>
        <div class="panel">
          <h3>Outbound SMTP (relaying)</h3>
          <${Kv} obj=${set.smtp.outbound} />
        </div>
        <div class="panel">
          <h3>Queue</h3>
          <${Kv} obj=${set.queue} />
        </div>
        <div class="panel">
          <h3>Local delivery</h3>
          <${Kv} obj=${set.local} />
        </div>
        <div class="panel">
          <h3>Logging</h3>
          <${Kv} obj=${set.log} />
        </div>
      </div>`
    }
    ${s && html`<${MilterList} node=${s.node} />`}
    <${DkimKeys} />
    ${
      node &&
      html`<${RuleText}
        id="server-rules"
        title=${`Server-wide rules of ${node}`}
        path=${`rules/server/${seg(node)}`}
        field="text"
        note=${`Applied only where ${node} enqueues a message (pick another node above for its own). Text form, one rule per line, e.g. (1,name,((Subject,is,"*sale*")),(("Add Header","X-Sale: yes"))).`}
      />`
    }
    <${RuleText}
      id="cluster-rules"
      title="Cluster-wide rules"
      path="rules/cluster"
      field="text"
      note="Applied by every member where a message is enqueued."
    />`;
}
