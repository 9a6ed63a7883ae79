// The Mail page's milters panel: one node's smtp.milters as it runs them (each entry's events,
// default action and timeouts, the smtp.milter* defaults applied) and how often each answered
// with which action or failed since the node started (GET /api/nodes/ID/milters).
import { html } from "./vendor/preact-htm.js";
import { api, seg } from "./api.js";
import { Err } from "./error.js";
import { useLoad } from "./load.js";

/** @typedef {import("./api-types.js").Milters} Milters */

/** "accept 3, continue 12", or "—" for none. @param {Readonly<Record<string, number>>} counts */
const counted = (counts) =>
  Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ") || "—";

/** @param {import("./api-types.js").Milter} x */
const timeouts = (x) =>
  `${x.connectTimeoutSeconds} s / ${x.commandTimeoutSeconds} s / ${x.contentTimeoutSeconds} s`;

/** @param {{ node: string }} props */
export function MilterList({ node }) {
  const [m, error] = useLoad(
    () => /** @type {Promise<Milters>} */ (api("GET", `nodes/${seg(node)}/milters`)),
    [node],
    5000,
  );
  return html`<div class="panel" id="milters">
    <h3>Milters (filter plugins)</h3>
    <${Err} text=${error} />
    ${
      m &&
      html`<p class="note">
          From smtp.milters in ${m.node}'s config (options after the address override the smtp.milter*
          defaults). A milter that is down or times out: ${m.defaultAction} unless the entry says otherwise.
          ${m.runs ? "" : " This node is a backend: its mail is filtered once, on a frontend."}
        </p>
        ${
          m.milters.length === 0
            ? html`<p id="milters-none">No milters configured on ${m.node}.</p>`
            : html`<table>
                <tr>
                  <th>milter</th>
                  <th>events</th>
                  <th>default action</th>
                  <th>timeouts (connect / command / content)</th>
                  <th>actions</th>
                  <th>failures</th>
                </tr>
                ${m.milters.map(
                  (x) =>
                    html`<tr data-milter=${x.name}>
                      <td>${x.name}</td>
                      <td>${x.events.join(", ")}</td>
                      <td>${x.defaultAction}</td>
                      <td>${timeouts(x)}</td>
                      <td class="actions">${counted(x.actions)}</td>
                      <td class="failures">${counted(x.failures)}</td>
                    </tr>`,
                )}
              </table>`
        }`
    }
  </div>`;
}
