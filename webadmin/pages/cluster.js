// Settings → General → Cluster: the members as this node sees them (polled), each with a Drain
// (or Undrain) button in a cluster (POST /api/cluster/nodes/ID/drain|undrain), and, in a cluster,
// Queue Processing: Submit Messages and Remote Submit Log, cluster default and per node, applied
// live through PUT /api/cluster/submit.
import { html, useState } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { Err, messageOf } from "../error.js";
import { withValue } from "../events.js";
import { time } from "../format.js";
import { useLoad } from "../load.js";

/** @typedef {import("../api-types.js").Members} Members */
/** @typedef {import("../api-types.js").Submit} Submit */
/** @typedef {import("../api-types.js").SubmitChoice} SubmitChoice */
/** @typedef {"submitMessages" | "submitLog"} Field */

const SUBMIT_MESSAGES = ["default", "Locally", "Locally for Others", "Remotely"];
const SUBMIT_LOG = [
  ["none", "None"],
  ["failure", "Failures"],
  ["major", "Major"],
  ["problem", "Problems"],
  ["low", "Low Level"],
  ["all", "All Info"],
];

/** Queue Processing: where generated mail is enqueued and how SUBMIT records are logged. */
function QueueProcessing() {
  const [data, error, reload] = useLoad(
    () => /** @type {Promise<Submit>} */ (api("GET", "cluster/submit")),
    [],
    5000,
  );
  const [msg, setMsg] = useState("");
  // Per row (a node id or "_default"), the fields changed and not yet applied.
  const [edit, setEdit] = useState(
    /** @type {Record<string, Partial<Record<Field, string>> | undefined>} */ ({}),
  );
  if (error && !data)
    return html`<div class="panel" id="queue-processing">
      <h3>Queue Processing</h3>
      <${Err} text=${error} />
    </div>`;
  if (!data) return null;
  /** @type {(key: string, field: Field, current: string) => string} */
  const val = (key, field, current) => edit[key]?.[field] ?? current;
  /** @type {(key: string, field: Field) => (e: Event) => void} */
  const set = (key, field) => withValue((v) => setEdit({ ...edit, [key]: { ...edit[key], [field]: v } }));
  /** @type {(key: string, node: string | undefined) => Promise<void>} */
  const apply = async (key, node) => {
    setMsg("");
    const changed = Object.entries(edit[key] || {}).filter(([, v]) => v !== "");
    const body = { ...(node ? { node } : {}), ...Object.fromEntries(changed) };
    try {
      await api("PUT", "cluster/submit", body);
      setEdit({ ...edit, [key]: undefined });
      setMsg(`applied to ${node || "the cluster default"}`);
      reload();
    } catch (e) {
      setMsg(messageOf(e));
    }
  };
  /** @type {(key: string, label: unknown, m: SubmitChoice, node: string | undefined, extra: string) => unknown} */
  const row = (key, label, m, node, extra) =>
    html`<tr data-node=${key}>
      <td>${label}</td>
      <td>
        <select
          name="submitMessages"
          value=${val(key, "submitMessages", m.submitMessages)}
          onChange=${set(key, "submitMessages")}
        >
          ${SUBMIT_MESSAGES.map((v) => html`<option value=${v}>${v}</option>`)}
        </select>
      </td>
      <td>
        <select
          name="submitLog"
          value=${val(key, "submitLog", m.submitLog ?? "")}
          onChange=${set(key, "submitLog")}
        >
          ${!node && html`<option value="">(each node's own)</option>`}
          ${SUBMIT_LOG.map(([v, t]) => html`<option value=${v}>${t}</option>`)}
        </select>
      </td>
      <td>${extra}</td>
      <td><button class="apply" onClick=${() => apply(key, node)}>Apply</button></td>
    </tr>`;
  return html`<div class="panel" id="queue-processing">
    <h3>Queue Processing</h3>
    <p class="note">
      Submit Messages: where mail generated on a node is enqueued (${data.kind} cluster). Remote Submit Log:
      the level of the SUBMIT records. Applied live.
    </p>
    <table>
      <tr>
        <th>Node</th>
        <th>Submit Messages</th>
        <th>Remote Submit Log</th>
        <th>Effective</th>
        <th></th>
      </tr>
      ${row("_default", html`<b>Cluster default</b>`, data.default, undefined, "")}
      ${data.members.map((m) => row(m.id, `${m.id} (${m.role}${m.live ? "" : ", down"})`, m, m.id, m.effective))}
    </table>
    ${msg && html`<p class="note" id="qp-msg">${msg}</p>`}
  </div>`;
}

/** @type {(m: import("../api-types.js").Member) => string} */
const drainText = (m) =>
  m.drain === "draining" ? "draining" : m.drain === "drained" ? "drained" : "taking mail";

export function ClusterPage() {
  const [c, error, reload] = useLoad(
    () => /** @type {Promise<Members>} */ (api("GET", "cluster/members")),
    [],
    3000,
  );
  const [drainMsg, setDrainMsg] = useState("");
  /** @type {(id: string, verb: "drain" | "undrain") => Promise<void>} */
  const drain = async (id, verb) => {
    setDrainMsg("");
    try {
      await api("POST", `cluster/nodes/${seg(id)}/${verb}`, {});
      setDrainMsg(
        verb === "drain" ? `${id}: draining, its queue goes to its peers` : `${id}: takes mail again`,
      );
      reload();
    } catch (e) {
      setDrainMsg(messageOf(e));
    }
  };
  return html`<h2>Cluster</h2>
    <${Err} text=${error} />
    ${
      c &&
      html`<div class="panel">
          <dl class="kv">
            <dt>Cluster kind</dt>
            <dd id="cluster-kind">${c.kind}</dd>
            <dt>This node</dt>
            <dd>${c.self} (${c.role})</dd>
          </dl>
        </div>
        <table id="members">
          <tr>
            <th>Member</th>
            <th>Role</th>
            <th>SMTP</th>
            <th>HTTP</th>
            <th>Channel</th>
            <th>Health</th>
            <th>Submit Messages</th>
            <th>Queue</th>
            <th>Last heartbeat</th>
            ${c.kind !== "single" && html`<th>Drain</th>`}
          </tr>
          ${c.members.map(
            (m) =>
              html`<tr data-member=${m.id}>
                <td>${m.id}</td>
                <td>${m.role}</td>
                <td>${m.smtp}</td>
                <td>${m.http}</td>
                <td>${m.channel || "—"}</td>
                <td class=${m.up ? "up" : "down"}>${m.up ? "up" : "down"}</td>
                <td>${m.submitMessages}</td>
                <td class="queue-size">${m.queueSize}</td>
                <td>${time(m.lastHeartbeat)}</td>
                ${
                  c.kind !== "single" &&
                  html`<td class="drain">
                    <span class="drain-state">${drainText(m)}</span>
                    ${" "}
                    <button
                      class=${m.drain ? "undrain" : "drain"}
                      onClick=${() => drain(m.id, m.drain ? "undrain" : "drain")}
                    >
                      ${m.drain ? "Undrain" : "Drain"}
                    </button>
                  </td>`
                }
              </tr>`,
          )}
        </table>
        ${drainMsg && html`<p class="note" id="drain-msg">${drainMsg}</p>`}`
    }
    ${c && c.kind !== "single" && html`<${QueueProcessing} />`}`;
}
