// The editor of one rule set or Sieve script, shared by the Mail page (server-wide and
// cluster-wide rules) and the Domains page (an account's rules and Sieve script).
import { html, useEffect, useState } from "./vendor/preact-htm.js";
import { api, ApiError } from "./api.js";
import { Err, messageOf } from "./error.js";
import { withValue } from "./events.js";
import { useLoad } from "./load.js";

/** @typedef {import("./api-types.js").Problem} Problem */
/** @typedef {import("./api-types.js").RuleSource} RuleSource */

/**
 * One rule set (the seed's text form) or one Sieve script, loaded from and saved through the
 * admin API (/api/rules/..., /api/sieve/...); the node validates and, for a text that does not
 * parse, answers with every error's line and column, listed under the editor.
 * @param {{ id: string, title: string, path: string, field: "text" | "script", note?: string }} props
 */
export function RuleText({ id, title, path, field, note }) {
  const [text, setText] = useState("");
  const [msg, setMsg] = useState("");
  const [problems, setProblems] = useState(/** @type {readonly Problem[]} */ ([]));
  const [loaded, error] = useLoad(
    () =>
      /** @type {Promise<RuleSource>} */ (api("GET", path)).catch((e) =>
        e.status === 404 ? { [field]: "" } : Promise.reject(e),
      ),
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
      setMsg(messageOf(e));
      const errors = e instanceof ApiError && e.body && Array.isArray(e.body.errors) ? e.body.errors : [];
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
      onInput=${withValue(setText)}
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
