// The WebAdmin shell: login form, the realm navigation and hash routing to the pages (one
// module each under pages/). preact + htm come from node_modules through the node
// (/admin/vendor/), no CDN; see src/admin/web/assets.ts for why this stack. Imports are
// relative, so the browser asks for the same /admin/ URLs the type check resolves on disk.
import { html, render, useEffect, useState } from "./vendor/preact-htm.js";
import { session, setCsrf } from "./api.js";
import { messageOf } from "./error.js";
import { withValue } from "./events.js";
import { ClusterPage } from "./pages/cluster.js";
import { DomainsPage } from "./pages/domains.js";
import { MailPage } from "./pages/mail.js";
import { MonitorPage } from "./pages/monitor.js";
import { QueuesPage } from "./pages/queues.js";

/** @typedef {import("./api-types.js").Session} Session */
/** @typedef {{ id: string, title: string, realm: string, page: () => unknown }} Page */

/** @type {[Page, ...Page[]]} the first is shown when the address names none */
const PAGES = [
  { id: "cluster", title: "Cluster", realm: "Settings → General → Cluster", page: ClusterPage },
  { id: "mail", title: "Mail", realm: "Settings → Mail", page: MailPage },
  { id: "domains", title: "Domains and accounts", realm: "Directory", page: DomainsPage },
  { id: "queues", title: "Queues", realm: "Monitoring → Queues", page: QueuesPage },
  { id: "monitor", title: "Monitoring", realm: "Monitoring → Counters and logs", page: MonitorPage },
];

const route = () => (location.hash.replace(/^#\/?/, "") || "cluster").split("/")[0];

/** @param {{ onIn: (user: string) => void }} props */
function Login({ onIn }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  /** @param {Event} e */
  const submit = async (e) => {
    e.preventDefault();
    setError("");
    try {
      const r = /** @type {Session} */ (await session("POST", "login", { user, password }));
      setCsrf(r.csrf);
      onIn(r.user);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return html`<form class="login panel" onSubmit=${submit} id="login">
    <h2>Mailyard WebAdmin</h2>
    <input
      name="user"
      placeholder="Administrator"
      autocomplete="username"
      value=${user}
      onInput=${withValue(setUser)}
    />
    <input
      name="password"
      type="password"
      placeholder="Password"
      autocomplete="current-password"
      value=${password}
      onInput=${withValue(setPassword)}
    />
    <button class="primary" type="submit">Log in</button>
    ${error && html`<p class="error" id="login-error">${error}</p>`}
  </form>`;
}

function App() {
  const [user, setUser] = useState(/** @type {string | null} */ (null));
  const [checked, setChecked] = useState(false);
  const [page, setPage] = useState(route());
  useEffect(() => {
    /** @type {Promise<Session>} */ (session("GET", "session"))
      .then((r) => {
        setCsrf(r.csrf);
        setUser(r.user);
      })
      .catch(() => setUser(null))
      .finally(() => setChecked(true));
    const onHash = () => setPage(route());
    const onOut = () => setUser(null);
    window.addEventListener("hashchange", onHash);
    window.addEventListener("mailyard-logged-out", onOut);
    return () => {
      window.removeEventListener("hashchange", onHash);
      window.removeEventListener("mailyard-logged-out", onOut);
    };
  }, []);
  if (!checked) return html`<p class="boot">Loading…</p>`;
  if (user === null) return html`<${Login} onIn=${setUser} />`;
  const current = PAGES.find((p) => p.id === page) ?? PAGES[0];
  const logout = async () => {
    await session("POST", "logout").catch(() => undefined);
    setCsrf("");
    setUser(null);
  };
  return html`<header class="top">
      <h1>Mailyard WebAdmin</h1>
      <nav>
        ${PAGES.map((p) => html`<a href=${"#/" + p.id} class=${p.id === current.id ? "on" : ""}>${p.title}</a>`)}
      </nav>
      <span class="who">${user}<button id="logout" onClick=${logout}>Log out</button></span>
    </header>
    <main>
      <div class="crumbs">${current.realm}</div>
      <${current.page} />
    </main>`;
}

const root = document.getElementById("app");
if (root) render(html`<${App} />`, root);
