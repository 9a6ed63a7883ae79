// The WebAdmin shell: login form, the realm navigation and hash routing to the pages
// (pages.js). preact + htm come from node_modules through the node (/admin/vendor/), no CDN;
// see src/admin/web/assets.ts for why this stack.
import { html, render, useEffect, useState } from "/admin/vendor/preact-htm.js";
import { session, setCsrf } from "/admin/api.js";
import { ClusterPage, DomainsPage, MailPage, MonitorPage, QueuesPage } from "/admin/pages.js";

const PAGES = [
  { id: "cluster", title: "Cluster", realm: "Settings → General → Cluster", page: ClusterPage },
  { id: "mail", title: "Mail", realm: "Settings → Mail", page: MailPage },
  { id: "domains", title: "Domains and accounts", realm: "Directory", page: DomainsPage },
  { id: "queues", title: "Queues", realm: "Monitoring → Queues", page: QueuesPage },
  { id: "monitor", title: "Monitoring", realm: "Monitoring → Counters and logs", page: MonitorPage },
];

const route = () => (location.hash.replace(/^#\/?/, "") || "cluster").split("/")[0];

function Login({ onIn }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const submit = async (e) => {
    e.preventDefault();
    setError("");
    try {
      const r = await session("POST", "login", { user, password });
      setCsrf(r.csrf);
      onIn(r.user);
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<form class="login panel" onSubmit=${submit} id="login">
    <h2>Mailyard WebAdmin</h2>
    <input
      name="user"
      placeholder="Administrator"
      autocomplete="username"
      value=${user}
      onInput=${(e) => setUser(e.target.value)}
    />
    <input
      name="password"
      type="password"
      placeholder="Password"
      autocomplete="current-password"
      value=${password}
      onInput=${(e) => setPassword(e.target.value)}
    />
    <button class="primary" type="submit">Log in</button>
    ${error && html`<p class="error" id="login-error">${error}</p>`}
  </form>`;
}

function App() {
  const [user, setUser] = useState(null);
  const [checked, setChecked] = useState(false);
  const [page, setPage] = useState(route());
  useEffect(() => {
    session("GET", "session")
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

render(html`<${App} />`, document.getElementById("app"));
