// The WebAdmin pages. Each loads what it shows from the admin API (api.js) and changes things
// only through it; per-node data of another member goes through /api/nodes/ID/..., which the
// node serving this page forwards to that member (signed with the cluster secret).
import { html, useEffect, useState, useCallback } from "/admin/vendor/preact-htm.js";
import { api, seg } from "/admin/api.js";

const SUBMIT_MESSAGES = ["default", "Locally", "Locally for Others", "Remotely"];
const SUBMIT_LOG = [
  ["none", "None"],
  ["failure", "Failures"],
  ["major", "Major"],
  ["problem", "Problems"],
  ["low", "Low Level"],
  ["all", "All Info"],
];
const LEVELS = ["0 Crashes", "1 Failures", "2 Major", "3 Problems", "4 Low Level", "5 All Info"];

const time = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "—");
const bytes = (n) =>
  n === null || n === undefined ? "unlimited" : n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${n} B`;

/** Loads fn() now, every `every` ms when given, and again on reload(); a stale answer is dropped. */
function useLoad(fn, deps, every) {
  const [data, setData] = useState(null);
  const [error, setError] = useState("");
  const [seq] = useState({ n: 0 });
  const load = useCallback(() => {
    const mine = ++seq.n;
    fn()
      .then((d) => {
        if (mine !== seq.n) return;
        setData(d);
        setError("");
      })
      .catch((e) => {
        if (mine === seq.n) setError(e.message);
      });
  }, deps);
  useEffect(() => {
    load();
    if (!every) return undefined;
    const t = setInterval(load, every);
    return () => clearInterval(t);
  }, [load]);
  return [data, error, load];
}

const Err = ({ text }) => (text ? html`<p class="error">${text}</p>` : null);

function useMembers() {
  const [data] = useLoad(() => api("GET", "cluster/members"), []);
  return data;
}

function NodePicker({ value, onChange }) {
  const c = useMembers();
  useEffect(() => {
    if (c && !value) onChange(c.self);
  }, [c]);
  // Shown once a node is chosen: a pick made before the default lands would be overwritten.
  if (!c || !value) return null;
  return html`<label
    >Node
    <select id="node" value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${c.members.map((m) => html`<option value=${m.id}>${m.id} (${m.role}${m.up ? "" : ", down"})</option>`)}
    </select></label
  >`;
}

// ---- Settings → General → Cluster -------------------------------------------------------

function QueueProcessing() {
  const [data, error, reload] = useLoad(() => api("GET", "cluster/submit"), [], 5000);
  const [msg, setMsg] = useState("");
  const [edit, setEdit] = useState({});
  if (error && !data)
    return html`<div class="panel" id="queue-processing">
      <h3>Queue Processing</h3>
      <${Err} text=${error} />
    </div>`;
  if (!data) return null;
  const val = (key, field, current) =>
    edit[key] && edit[key][field] !== undefined ? edit[key][field] : current;
  const set = (key, field) => (e) => setEdit({ ...edit, [key]: { ...edit[key], [field]: e.target.value } });
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
      setMsg(e.message);
    }
  };
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

export function ClusterPage() {
  const [c, error] = useLoad(() => api("GET", "cluster/members"), [], 3000);
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
              </tr>`,
          )}
        </table>`
    }
    ${c && c.kind !== "single" && html`<${QueueProcessing} />`}`;
}

// ---- Settings → Mail ------------------------------------------------------------------------

const Kv = ({ obj }) =>
  html`<dl class="kv">
    ${Object.entries(obj).map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd>${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}</dd>`,
    )}
  </dl>`;

const SOURCE = {
  config: "config file",
  cluster: "cluster-wide",
  node: "this node",
  "environment or --set": "environment or --set (wins)",
};
const shownValue = (v) => (v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : String(v));

/**
 * The managed settings (SMTP, queue, local delivery) of one node: what it runs with and where
 * that comes from, and a form that stores a value cluster-wide or for this node through
 * PUT /api/config (text as in the environment: lists comma-separated), or removes it.
 */
function ManagedSettings({ node, entries, reload }) {
  const [edit, setEdit] = useState(null);
  const [msg, setMsg] = useState("");
  const store = async (key, scope, text) => {
    setMsg("");
    try {
      const body = { key, ...(scope === "node" ? { node } : {}) };
      const r = await api("PUT", "config", text === null ? { ...body, value: null } : { ...body, text });
      const where = scope === "node" ? `for ${node}` : "cluster-wide";
      setMsg(
        text === null
          ? `${key}: ${where} value removed`
          : `${key} = ${shownValue(r.value)} ${where}: ${r.applies === "live" ? "applied live" : "applies when the node restarts"}`,
      );
      setEdit(null);
      reload();
    } catch (e) {
      setMsg(e.message);
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
        onSubmit=${(ev) => {
          ev.preventDefault();
          store(edit.key, edit.scope, edit.text);
        }}
      >
        <label
          >${edit.key}
          <input
            name="text"
            value=${edit.text}
            onInput=${(ev) => setEdit({ ...edit, text: ev.target.value })}
        /></label>
        <select
          name="scope"
          value=${edit.scope}
          onChange=${(ev) => setEdit({ ...edit, scope: ev.target.value })}
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
    () => (node ? api("GET", `nodes/${seg(node)}/settings`) : Promise.resolve(null)),
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

/**
 * One rule set (the seed's text form) or one Sieve script, loaded from and saved through the
 * admin API (/api/rules/..., /api/sieve/...); the node validates and, for a text that does not
 * parse, answers with every error's line and column, listed under the editor.
 */
function RuleText({ id, title, path, field, note }) {
  const [text, setText] = useState("");
  const [msg, setMsg] = useState("");
  const [problems, setProblems] = useState([]);
  const [loaded, error] = useLoad(
    () => api("GET", path).catch((e) => (e.status === 404 ? { [field]: "" } : Promise.reject(e))),
    [path],
  );
  // The text area stays disabled until the stored text is in: typing before would be overwritten.
  const [ready, setReady] = useState(false);
  useEffect(() => {
    if (!loaded) return;
    setText(loaded[field] ?? "");
    setReady(true);
  }, [loaded]);
  const save = async () => {
    setMsg("");
    setProblems([]);
    try {
      if (field === "script" && text.trim() === "") await api("DELETE", path);
      else await api("POST", path, { [field]: text });
      setMsg("saved");
    } catch (e) {
      setMsg(e.message);
      const errors = e.body && Array.isArray(e.body.errors) ? e.body.errors : [];
      setProblems(errors);
    }
  };
  return html`<div class="panel rule-text" id=${id}>
    <h3>${title}</h3>
    ${note && html`<p class="note">${note}</p>`}
    <${Err} text=${error} />
    <textarea
      rows="6"
      cols="90"
      spellcheck="false"
      disabled=${!ready}
      value=${text}
      onInput=${(e) => setText(e.target.value)}
    />
    <div><button class="save" onClick=${save}>Save</button> <span class="msg">${msg}</span></div>
    ${
      problems.length > 0 &&
      html`<ul class="problems">
        ${problems.map((p) => html`<li>line ${p.line}, column ${p.column}: ${p.message}</li>`)}
      </ul>`
    }
  </div>`;
}

// ---- Domains and accounts -------------------------------------------------------------------

const clockTime = (ms) => new Date(ms).toISOString().slice(11, 19);

/**
 * Where an account lives, from the API's answer: a static cluster's home backend, a dynamic
 * cluster's current owner (the backend holding its lease) or nobody; nothing on a single server.
 */
function placementText(kind, a) {
  if (kind === "dynamic")
    return a.owner
      ? `owner: ${a.owner.node} (lease until ${clockTime(a.owner.expiresAt)})`
      : "no owner (free)";
  if (kind === "static") return a.home || "—";
  return "—";
}

/** The account's home or owner now (an owner changes by itself, so it is re-read every 5 s). */
function AccountPlacement({ kind, address }) {
  const [a, error] = useLoad(
    () => (kind === "single" ? Promise.resolve(null) : api("GET", `accounts/${seg(address)}`)),
    [kind, address],
    5000,
  );
  if (kind === "single") return null;
  const where = a ? placementText(a.kind, a) : "…";
  return html`<p id="account-placement">
    ${kind === "static" ? `Home backend: ${where}` : where}
    ${error && html`<span class="error">${error}</span>`}
  </p>`;
}

function AccountEditor({ account, kind, backends, onDone }) {
  const [f, setF] = useState({
    password: "",
    enabled: account.enabled,
    quota: account.quotaBytes ?? "",
    maxSize: account.maxMessageSize ?? "",
    outFlow: account.outFlow ? `${account.outFlow.messages}/${account.outFlow.periodSeconds}` : "",
    inFlow: account.inFlow ? `${account.inFlow.messages}/${account.inFlow.periodSeconds}` : "",
    home: account.home || "",
  });
  const [error, setError] = useState("");
  const num = (v) => (v === "" ? null : Number(v));
  const flow = (v) => {
    if (v.trim() === "") return null;
    const m = /^(\d+)\/(\d+)$/.exec(v.trim());
    if (!m) throw new Error("a flow limit is MESSAGES/SECONDS, like 100/3600");
    return { messages: Number(m[1]), periodSeconds: Number(m[2]) };
  };
  const save = async (e) => {
    e.preventDefault();
    try {
      const body = {
        enabled: f.enabled,
        quotaBytes: num(f.quota),
        maxMessageSize: num(f.maxSize),
        outFlow: flow(f.outFlow),
        inFlow: flow(f.inFlow),
        ...(f.password ? { password: f.password } : {}),
        ...(f.home && f.home !== account.home ? { home: f.home } : {}),
      };
      await api("PATCH", `accounts/${seg(account.address)}`, body);
      onDone();
    } catch (err) {
      setError(err.message);
    }
  };
  const input = (k, attrs = {}) =>
    html`<input name=${k} value=${f[k]} onInput=${(e) => setF({ ...f, [k]: e.target.value })} ...${attrs} />`;
  return html`<form class="panel" id="account-editor" onSubmit=${save}>
    <h3>Edit ${account.address}</h3>
    <${AccountPlacement} kind=${kind} address=${account.address} />
    <div class="row">
      <label>New password ${input("password", { type: "password", autocomplete: "new-password" })}</label>
      <label
        ><input
          type="checkbox"
          name="enabled"
          checked=${f.enabled}
          onChange=${(e) => setF({ ...f, enabled: e.target.checked })}
        />
        Mail enabled</label
      >
    </div>
    <div class="row">
      <label>Quota (bytes, empty = unlimited) ${input("quota")}</label>
      <label>Max message size (bytes) ${input("maxSize")}</label>
    </div>
    <div class="row">
      <label>Out flow (N/SECONDS) ${input("outFlow")}</label><label>In flow ${input("inFlow")}</label>
    </div>
    ${
      backends.length > 0 &&
      html`<div class="row">
        <label
          >Home backend
          <select name="home" value=${f.home} onChange=${(e) => setF({ ...f, home: e.target.value })}>
            <option value="">—</option>
            ${backends.map((b) => html`<option value=${b}>${b}</option>`)}
          </select></label
        >
      </div>`
    }
    <${Err} text=${error} />
    <div class="row">
      <button class="primary" type="submit">Save</button
      ><button type="button" onClick=${onDone}>Cancel</button>
    </div>
  </form>`;
}

export function DomainsPage() {
  const [domains, dErr, reloadDomains] = useLoad(() => api("GET", "domains"), []);
  const members = useMembers();
  const backends = members ? members.members.filter((m) => m.role === "backend").map((m) => m.id) : [];
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const limit = 20;
  const [accounts, aErr, reloadAccounts] = useLoad(
    () => api("GET", `accounts?q=${seg(q)}&offset=${offset}&limit=${limit}`),
    [q, offset],
  );
  // static: a home column; dynamic: the current owner; single server: no column.
  const kind = accounts ? accounts.kind : "single";
  const [newDomain, setNewDomain] = useState("");
  const [na, setNa] = useState({ address: "", password: "", home: "" });
  const [editing, setEditing] = useState(null);
  const [error, setError] = useState("");
  const act = async (fn) => {
    setError("");
    try {
      await fn();
      reloadDomains();
      reloadAccounts();
    } catch (e) {
      setError(e.message);
    }
  };
  return html`<h2>Domains and accounts</h2>
    <${Err} text=${dErr || aErr || error} />
    <div class="panel">
      <h3>Domains</h3>
      <div class="row" id="domains">
        ${(domains ? domains.domains : []).map(
          (d) =>
            html`<span class="domain"
              >${d}
              <button
                class="danger"
                title="remove"
                onClick=${() => act(() => api("DELETE", `domains/${seg(d)}`))}
              >
                ×
              </button></span
            >`,
        )}
      </div>
      <form
        class="row"
        id="add-domain"
        onSubmit=${(e) => {
          e.preventDefault();
          act(async () => {
            await api("POST", "domains", { name: newDomain });
            setNewDomain("");
          });
        }}
      >
        <input
          name="domain"
          placeholder="example.test"
          value=${newDomain}
          onInput=${(e) => setNewDomain(e.target.value)}
        />
        <button type="submit">Add domain</button>
      </form>
    </div>
    <div class="panel">
      <h3>New account</h3>
      <form
        class="row"
        id="add-account"
        onSubmit=${(e) => {
          e.preventDefault();
          act(async () => {
            await api("POST", "accounts", {
              address: na.address,
              password: na.password,
              ...(na.home ? { home: na.home } : {}),
            });
            setNa({ address: "", password: "", home: "" });
          });
        }}
      >
        <input
          name="address"
          placeholder="user@example.test"
          value=${na.address}
          onInput=${(e) => setNa({ ...na, address: e.target.value })}
        />
        <input
          name="password"
          type="password"
          placeholder="password"
          autocomplete="new-password"
          value=${na.password}
          onInput=${(e) => setNa({ ...na, password: e.target.value })}
        />
        ${
          backends.length > 0 &&
          html`<select name="home" value=${na.home} onChange=${(e) => setNa({ ...na, home: e.target.value })}>
            <option value="">home: automatic</option>
            ${backends.map((b) => html`<option value=${b}>${b}</option>`)}
          </select>`
        }
        <button type="submit" class="primary">Create account</button>
      </form>
    </div>
    ${
      editing &&
      html`<${AccountEditor}
        key=${editing.address}
        account=${editing}
        kind=${kind}
        backends=${backends}
        onDone=${() => {
          setEditing(null);
          reloadAccounts();
        }}
      />`
    }
    <div class="row">
      <input
        id="account-search"
        placeholder="search accounts"
        value=${q}
        onInput=${(e) => {
          setQ(e.target.value);
          setOffset(0);
        }}
      />
      ${accounts && html`<span class="note">${accounts.total} account(s)</span>`}
      <button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - limit))}>‹ Prev</button>
      <button
        disabled=${!accounts || offset + limit >= accounts.total}
        onClick=${() => setOffset(offset + limit)}
      >
        Next ›
      </button>
    </div>
    <table id="accounts">
      <tr>
        <th>Address</th>
        <th>Mail</th>
        <th>Quota</th>
        <th>Used</th>
        ${kind !== "single" && html`<th>Home / owner</th>`}
        <th></th>
      </tr>
      ${(accounts ? accounts.accounts : []).map(
        (a) =>
          html`<tr data-account=${a.address}>
            <td>${a.address}</td>
            <td>${a.enabled ? "enabled" : "disabled"}</td>
            <td>${bytes(a.quotaBytes)}</td>
            <td>${bytes(a.usedBytes)}</td>
            ${kind !== "single" && html`<td class="placement">${placementText(kind, a)}</td>`}
            <td>
              <button onClick=${() => setEditing(a)}>Edit</button>
              <button
                class="danger"
                onClick=${() => confirm(`Remove ${a.address}?`) && act(() => api("DELETE", `accounts/${seg(a.address)}`))}
              >
                Remove
              </button>
            </td>
          </tr>`,
      )}
    </table>
    ${
      editing
        ? html`<${RuleText}
              id="account-rules"
              title=${`Rules of ${editing.address}`}
              path=${`rules/account/${seg(editing.address)}`}
              field="text"
            />
            <${RuleText}
              id="account-sieve"
              title=${`Sieve script of ${editing.address}`}
              path=${`sieve/${seg(editing.address)}`}
              field="script"
              note="Run after the account's rules when a message is stored; an empty script removes it."
            />`
        : html`<p class="note">Edit an account to see and change its rules and Sieve script.</p>`
    }`;
}

// ---- Queues -----------------------------------------------------------------------------------

const destination = (address) => address.slice(address.lastIndexOf("@") + 1).toLowerCase();

function MessageDetails({ node, id, onDone, onChanged }) {
  const [m, error, reload] = useLoad(
    () => api("GET", `nodes/${seg(node)}/queue/${seg(id)}?headers=1`),
    [node, id],
  );
  const [msg, setMsg] = useState("");
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
      setMsg(`${action}: ${e.message}`);
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
      ${["hold", "release", "retry", "reject", "delete"].map((a) => html`<button name=${a} class=${a === "delete" || a === "reject" ? "danger" : ""} onClick=${() => act(a)}>${a[0].toUpperCase() + a.slice(1)}</button>`)}
      <button onClick=${onDone}>Close</button>
    </div>
    ${msg && html`<p class="note" id="action-msg">${msg}</p>`}
  </div>`;
}

export function QueuesPage() {
  const [node, setNode] = useState("");
  const [dest, setDest] = useState("");
  const [sel, setSel] = useState(null);
  const [q, error, reloadQueue] = useLoad(
    () => (node ? api("GET", `nodes/${seg(node)}/queue`) : Promise.resolve(null)),
    [node],
    2000,
  );
  const messages = q ? q.messages : [];
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
        onChange=${(v) => {
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

// ---- Monitoring ------------------------------------------------------------------------------

function Chart({ title, points, series }) {
  const w = 360;
  const h = 90;
  const max = Math.max(1, ...series.flatMap((s) => points.map((p) => p[s.key] ?? 0)));
  const x = (i) => (i / Math.max(1, points.length - 1)) * (w - 10) + 5;
  const y = (v) => h - 5 - (v / max) * (h - 15);
  return html`<div class="chart">
    <div>
      <b>${title}</b>
      <span class="legend">last ${points.length} min, max ${Math.round(max * 100) / 100}</span>
    </div>
    <svg width=${w} height=${h} role="img" aria-label=${title}>
      <line x1="5" y1=${h - 5} x2=${w - 5} y2=${h - 5} stroke="#d9dee7" />
      ${series.map(
        (s) =>
          html`<polyline
            fill="none"
            stroke=${s.color}
            stroke-width="2"
            points=${points.map((p, i) => `${x(i)},${y(p[s.key] ?? 0)}`).join(" ")}
          />`,
      )}
    </svg>
    <div class="legend">
      ${series.map((s) => html`<span style=${{ color: s.color }}>■ ${s.label} </span>`)}
    </div>
  </div>`;
}

function LogViewer({ node }) {
  const [tags, setTags] = useState([]);
  const [level, setLevel] = useState("5");
  const [text, setText] = useState("");
  const [logs, error] = useLoad(
    () =>
      node
        ? api("GET", `nodes/${seg(node)}/logs?tags=${tags.join(",")}&level=${level}&q=${seg(text)}&limit=300`)
        : Promise.resolve(null),
    [node, tags.join(","), level, text],
    2000,
  );
  const toggle = (t) => setTags(tags.includes(t) ? tags.filter((x) => x !== t) : [...tags, t]);
  return html`<div class="panel" id="logs">
    <h3>Log</h3>
    <div class="row tags">
      ${(logs ? logs.tags : []).map((t) => html`<label><input type="checkbox" name=${"tag-" + t} checked=${tags.includes(t)} onChange=${() => toggle(t)} />${t}</label>`)}
    </div>
    <div class="row">
      <label
        >Level up to
        <select id="log-level" value=${level} onChange=${(e) => setLevel(e.target.value)}>
          ${LEVELS.map((l, i) => html`<option value=${String(i)}>${l}</option>`)}
        </select></label
      >
      <input
        id="log-text"
        placeholder="text filter"
        value=${text}
        onInput=${(e) => setText(e.target.value)}
      />
    </div>
    <${Err} text=${error} />
    <pre id="log-lines">${logs ? logs.records.map((r) => r.line).join("\n") || "(no records)" : ""}</pre>
  </div>`;
}

export function MonitorPage() {
  const [node, setNode] = useState("");
  const [m, error] = useLoad(
    () => (node ? api("GET", `nodes/${seg(node)}/monitor`) : Promise.resolve(null)),
    [node],
    5000,
  );
  const c = m && m.counters;
  return html`<h2>Monitoring</h2>
    <div class="row"><${NodePicker} value=${node} onChange=${setNode} /></div>
    <${Err} text=${error} />
    ${
      m &&
      html`<div class="cards" id="counters">
          <div class="card">Queue<b id="mon-queue">${m.queue}</b></div>
          <div class="card">Received<b id="mon-received">${c.received.total}</b></div>
          <div class="card">Delivered<b id="mon-delivered">${c.delivered.total}</b></div>
          <div class="card">Deferred<b>${c.deferred.total}</b></div>
          <div class="card">Bounced<b>${c.bounced.total}</b></div>
          <div class="card">Connections<b>${c.connections.total}</b></div>
        </div>
        <h3>Per minute</h3>
        <div class="charts">
          <${Chart}
            title="Messages in / out"
            points=${m.minutes}
            series=${[
              { key: "in", label: "in", color: "#2f5fb3" },
              { key: "out", label: "out", color: "#067647" },
            ]}
          />
          <${Chart}
            title="Queue size"
            points=${m.minutes}
            series=${[{ key: "queue", label: "messages", color: "#b54708" }]}
          />
          <${Chart}
            title="Delivery latency (s)"
            points=${m.minutes}
            series=${[{ key: "latency", label: "mean", color: "#7a2e9e" }]}
          />
        </div>`
    }
    <${LogViewer} node=${node} />`;
}
