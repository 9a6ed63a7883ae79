// Directory: the local domains, the accounts (searched and paged) with their placement in a
// cluster (a static cluster's home backend, a dynamic cluster's current owner), the account
// editor, and the edited account's rules and Sieve script.
import { html, useState } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { Err, messageOf } from "../error.js";
import { withChecked, withValue } from "../events.js";
import { bytes } from "../format.js";
import { useLoad } from "../load.js";
import { useMembers } from "../node-picker.js";
import { RuleText } from "../rule-text.js";

/** @typedef {import("../api-types.js").Account} Account */
/** @typedef {import("../api-types.js").AccountPage} AccountPage */
/** @typedef {import("../api-types.js").ClusterKind} ClusterKind */
/** @typedef {import("../api-types.js").Domains} Domains */
/** @typedef {import("../api-types.js").PlacedAccount} PlacedAccount */

/** @param {number} ms */
const clockTime = (ms) => new Date(ms).toISOString().slice(11, 19);

/**
 * Where an account lives, from the API's answer: a static cluster's home backend, a dynamic
 * cluster's current owner (the backend holding its lease) or nobody; nothing on a single server.
 * @param {ClusterKind} kind
 * @param {Account} a
 */
function placementText(kind, a) {
  if (kind === "dynamic")
    return a.owner
      ? `owner: ${a.owner.node} (lease until ${clockTime(a.owner.expiresAt)})`
      : "no owner (free)";
  if (kind === "static") return a.home || "—";
  return "—";
}

/**
 * The account's home or owner now (an owner changes by itself, so it is re-read every 5 s).
 * @param {{ kind: ClusterKind, address: string }} props
 */
function AccountPlacement({ kind, address }) {
  const [a, error] = useLoad(
    () =>
      kind === "single"
        ? Promise.resolve(null)
        : /** @type {Promise<PlacedAccount>} */ (api("GET", `accounts/${seg(address)}`)),
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

/**
 * The account's settings form, saved with PATCH /api/accounts/ADDRESS (empty = no limit).
 * @param {{ account: Account, kind: ClusterKind, backends: readonly string[], onDone: () => void }} props
 */
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
  /** @param {string | number} v */
  const num = (v) => (v === "" ? null : Number(v));
  /** @param {string} v */
  const flow = (v) => {
    if (v.trim() === "") return null;
    const m = /^(\d+)\/(\d+)$/.exec(v.trim());
    if (!m) throw new Error("a flow limit is MESSAGES/SECONDS, like 100/3600");
    return { messages: Number(m[1]), periodSeconds: Number(m[2]) };
  };
  /** @param {Event} e */
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
      setError(messageOf(err));
    }
  };
  /** @type {(k: "password" | "quota" | "maxSize" | "outFlow" | "inFlow", attrs?: object) => unknown} */
  const input = (k, attrs = {}) =>
    html`<input name=${k} value=${f[k]} onInput=${withValue((v) => setF({ ...f, [k]: v }))} ...${attrs} />`;
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
          onChange=${withChecked((enabled) => setF({ ...f, enabled }))}
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
          <select name="home" value=${f.home} onChange=${withValue((home) => setF({ ...f, home }))}>
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
  const [domains, dErr, reloadDomains] = useLoad(
    () => /** @type {Promise<Domains>} */ (api("GET", "domains")),
    [],
  );
  const members = useMembers();
  const backends = members ? members.members.filter((m) => m.role === "backend").map((m) => m.id) : [];
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const limit = 20;
  const [accounts, aErr, reloadAccounts] = useLoad(
    () =>
      /** @type {Promise<AccountPage>} */ (
        api("GET", `accounts?q=${seg(q)}&offset=${offset}&limit=${limit}`)
      ),
    [q, offset],
  );
  // static: a home column; dynamic: the current owner; single server: no column.
  /** @type {ClusterKind} */
  const kind = accounts ? accounts.kind : "single";
  const [newDomain, setNewDomain] = useState("");
  const [na, setNa] = useState({ address: "", password: "", home: "" });
  const [editing, setEditing] = useState(/** @type {Account | null} */ (null));
  const [error, setError] = useState("");
  /** @param {() => Promise<unknown>} fn */
  const act = async (fn) => {
    setError("");
    try {
      await fn();
      reloadDomains();
      reloadAccounts();
    } catch (e) {
      setError(messageOf(e));
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
        onSubmit=${(/** @type {Event} */ e) => {
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
          onInput=${withValue(setNewDomain)}
        />
        <button type="submit">Add domain</button>
      </form>
    </div>
    <div class="panel">
      <h3>New account</h3>
      <form
        class="row"
        id="add-account"
        onSubmit=${(/** @type {Event} */ e) => {
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
          onInput=${withValue((address) => setNa({ ...na, address }))}
        />
        <input
          name="password"
          type="password"
          placeholder="password"
          autocomplete="new-password"
          value=${na.password}
          onInput=${withValue((password) => setNa({ ...na, password }))}
        />
        ${
          backends.length > 0 &&
          html`<select name="home" value=${na.home} onChange=${withValue((home) => setNa({ ...na, home }))}>
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
        onInput=${withValue((v) => {
          setQ(v);
          setOffset(0);
        })}
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
