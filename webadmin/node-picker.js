// The cluster's members as the pages need them: useMembers (read once) and NodePicker, the
// "Node" select of the per-node pages, which starts on the node serving the page.
import { html, useEffect } from "./vendor/preact-htm.js";
import { api } from "./api.js";
import { withValue } from "./events.js";
import { useLoad } from "./load.js";

/** @typedef {import("./api-types.js").Members} Members */

export function useMembers() {
  const [data] = useLoad(() => /** @type {Promise<Members>} */ (api("GET", "cluster/members")), []);
  return data;
}

/** @param {{ value: string, onChange: (id: string) => void }} props */
export function NodePicker({ value, onChange }) {
  const c = useMembers();
  useEffect(() => {
    if (c && !value) onChange(c.self);
  }, [c]);
  // Shown once a node is chosen: a pick made before the default lands would be overwritten.
  if (!c || !value) return null;
  return html`<label
    >Node
    <select id="node" value=${value} onChange=${withValue(onChange)}>
      ${c.members.map((m) => html`<option value=${m.id}>${m.id} (${m.role}${m.up ? "" : ", down"})</option>`)}
    </select></label
  >`;
}
