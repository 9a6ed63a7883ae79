// Monitoring → Queues: one node's queue (polled), counted and filtered by destination domain,
// and one message's details (recipients, headers) with the operator's actions on it.
import { html, useState } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { Err, messageOf } from "../error.js";
import { time } from "../format.js";
import { useLoad } from "../load.js";
import { NodePicker } from "../node-picker.js";

/** @typedef {import("../api-types.js").MessageDetail} MessageDetail */
/** @typedef {import("../api-types.js").QueueList} QueueList */

/** @param {string} address */
const destination = (address) => address.slice(address.lastIndexOf("@") + 1).toLowerCase();

/** @param {{ node: string, id: string, onDone: () => void, onChanged: () => void }} props */
function MessageDetails({ node, id, onDone, onChanged }) {
  const [m, error, reload] = useLoad(
    () => /** @type {Promise<MessageDetail>} */ (api("GET", `nodes/${seg(node)}/queue/${seg(id)}?headers=1`)),
    [node, id],
  );
  const [msg, setMsg] = useState("");
  /** @param {string} action */
  const act = async (action) => {
    setMsg("");
    try {
      if (action === "delete") await api("DELETE", `nodes/${seg(node)}/queue/${seg(id)}`);
      else
        await api(
          "POST",
          `nodes/${seg(node)}/queue/${seg(id)}/${action}`,
          action === "reject" ? {} : undefined,
        );
      setMsg(`${action}: done`);
      onChanged();
      if (action === "delete" || action === "reject") onDone();
      else reload();
    } catch (e) {
      setMsg(`${action}: ${messageOf(e)}`);
    }
  };
  return html`<div class="panel" id="message-details">
    <h3>Message ${id} on ${node}</h3>
    <${Err} text=${error} />
    ${
      m &&
      html`<dl class="kv">
          <dt>State</dt>
          <dd id="message-state">${m.state}</dd>
          <dt>From</dt>
          <dd>${m.from || "<>"}</dd>
          <dt>Arrival</dt>
          <dd>${time(m.arrival)}</dd>
          <dt>Size</dt>
          <dd>${m.size}</dd>
          <dt>Source</dt>
          <dd>${m.source}</dd>
        </dl>
        <h3>Recipients</h3>
        <table>
          <tr>
            <th>Recipient</th>
            <th>State</th>
            <th>Attempts</th>
            <th>Next attempt</th>
            <th>Last error</th>
          </tr>
          ${m.recipients.map(
            (r) =>
              html`<tr>
                <td>${r.address}</td>
                <td>${r.status}</td>
                <td>${r.attempts}</td>
                <td>${time(r.nextAttempt)}</td>
                <td>${r.lastReply || "—"}</td>
              </tr>`,
          )}
        </table>
        <h3>Headers</h3>
        <pre class="headers">${m.headers ?? "(not available)"}</pre>`
    }
    <div class="row" id="message-actions">
      ${["hold", "release", "retry", "reject", "delete"].map((a) => html`<button name=${a} class=${a === "delete" || a === "reject" ? "danger" : ""} onClick=${() => act(a)}>${a.charAt(0).toUpperCase() + a.slice(1)}</button>`)}
      <button onClick=${onDone}>Close</button>
    </div>
    ${msg && html`<p class="note" id="action-msg">${msg}</p>`}
  </div>`;
}

export function QueuesPage() {
  const [node, setNode] = useState("");
  const [dest, setDest] = useState("");
  const [sel, setSel] = useState(/** @type {string | null} */ (null));
  const [q, error, reloadQueue] = useLoad(
    () =>
      node
        ? /** @type {Promise<QueueList>} */ (api("GET", `nodes/${seg(node)}/queue`))
        : Promise.resolve(null),
    [node],
    2000,
  );
  const messages = q ? q.messages : [];
  /** @type {Map<string, number>} */
  const byDest = new Map();
  for (const m of messages)
    for (const r of m.recipients) {
      if (r.status === "delivered" || r.status === "bounced") continue;
      const d = destination(r.address);
      byDest.set(d, (byDest.get(d) || 0) + 1);
    }
  const shown = dest
    ? messages.filter((m) => m.recipients.some((r) => destination(r.address) === dest))
    : messages;
  return html`<h2>Queues</h2>
    <div class="row">
      <${NodePicker}
        value=${node}
        onChange=${(/** @type {string} */ v) => {
          setNode(v);
          setSel(null);
        }}
      />
      ${q && html`<span class="note" id="queue-size">${q.size} message(s) in ${node}'s queue</span>`}
    </div>
    <${Err} text=${error} />
    <div class="panel">
      <h3>By destination</h3>
      <div class="row" id="destinations">
        <button class=${dest === "" ? "primary" : ""} onClick=${() => setDest("")}>all</button>
        ${[...byDest].map(([d, n]) => html`<button class=${dest === d ? "primary" : ""} onClick=${() => setDest(d)}>${d} (${n})</button>`)}
      </div>
    </div>
    ${sel && html`<${MessageDetails} node=${node} id=${sel} onDone=${() => setSel(null)} onChanged=${reloadQueue} />`}
    <table id="queue">
      <tr>
        <th>Id</th>
        <th>State</th>
        <th>From</th>
        <th>Recipients</th>
        <th>Arrival</th>
        <th>Last error</th>
      </tr>
      ${shown.map(
        (m) =>
          html`<tr
            class=${"click" + (sel === m.id ? " sel" : "")}
            data-id=${m.id}
            onClick=${() => setSel(m.id)}
          >
            <td>${m.id}</td>
            <td>${m.state}</td>
            <td>${m.from || "<>"}</td>
            <td>${m.recipients.map((r) => `${r.address} (${r.status})`).join(", ")}</td>
            <td>${time(m.arrival)}</td>
            <td>${m.recipients.map((r) => r.lastReply).filter(Boolean)[0] || "—"}</td>
          </tr>`,
      )}
    </table>
    ${q && messages.length === 0 && html`<p class="note">The queue is empty.</p>`}`;
}
