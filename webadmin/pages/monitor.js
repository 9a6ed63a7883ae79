// Monitoring → Counters and logs: one node's counters, the last hour per minute as charts
// (inline SVG, nothing loaded from elsewhere) and its recent log records, filtered by tag,
// level and text.
import { html, useState } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { Err } from "../error.js";
import { withValue } from "../events.js";
import { useLoad } from "../load.js";
import { NodePicker } from "../node-picker.js";

/** @typedef {import("../api-types.js").Logs} Logs */
/** @typedef {import("../api-types.js").MinutePoint} MinutePoint */
/** @typedef {import("../api-types.js").Monitor} Monitor */
/** @typedef {{ key: "in" | "out" | "queue" | "latency", label: string, color: string }} Series */

const LEVELS = ["0 Crashes", "1 Failures", "2 Major", "3 Problems", "4 Low Level", "5 All Info"];

/** @param {{ title: string, points: readonly MinutePoint[], series: readonly Series[] }} props */
function Chart({ title, points, series }) {
  const w = 360;
  const h = 90;
  const max = Math.max(1, ...series.flatMap((s) => points.map((p) => p[s.key] ?? 0)));
  /** @param {number} i */
  const x = (i) => (i / Math.max(1, points.length - 1)) * (w - 10) + 5;
  /** @param {number} v */
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

/** @param {{ node: string }} props */
function LogViewer({ node }) {
  const [tags, setTags] = useState(/** @type {readonly string[]} */ ([]));
  const [level, setLevel] = useState("5");
  const [text, setText] = useState("");
  const [logs, error] = useLoad(
    () =>
      node
        ? /** @type {Promise<Logs>} */ (
            api(
              "GET",
              `nodes/${seg(node)}/logs?tags=${tags.join(",")}&level=${level}&q=${seg(text)}&limit=300`,
            )
          )
        : Promise.resolve(null),
    [node, tags.join(","), level, text],
    2000,
  );
  /** @param {string} t */
  const toggle = (t) => setTags(tags.includes(t) ? tags.filter((x) => x !== t) : [...tags, t]);
  return html`<div class="panel" id="logs">
    <h3>Log</h3>
    <div class="row tags">
      ${(logs ? logs.tags : []).map((t) => html`<label><input type="checkbox" name=${"tag-" + t} checked=${tags.includes(t)} onChange=${() => toggle(t)} />${t}</label>`)}
    </div>
    <div class="row">
      <label
        >Level up to
        <select id="log-level" value=${level} onChange=${withValue(setLevel)}>
          ${LEVELS.map((l, i) => html`<option value=${String(i)}>${l}</option>`)}
        </select></label
      >
      <input id="log-text" placeholder="text filter" value=${text} onInput=${withValue(setText)} />
    </div>
    <${Err} text=${error} />
    <pre id="log-lines">${logs ? logs.records.map((r) => r.line).join("\n") || "(no records)" : ""}</pre>
  </div>`;
}

export function MonitorPage() {
  const [node, setNode] = useState("");
  const [m, error] = useLoad(
    () =>
      node
        ? /** @type {Promise<Monitor>} */ (api("GET", `nodes/${seg(node)}/monitor`))
        : Promise.resolve(null),
    [node],
    5000,
  );
  const c = m && m.counters;
  return html`<h2>Monitoring</h2>
    <div class="row"><${NodePicker} value=${node} onChange=${setNode} /></div>
    <${Err} text=${error} />
    ${
      m &&
      c &&
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
