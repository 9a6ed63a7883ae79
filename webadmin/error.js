// How the pages show a failure: the error line under a panel, and the text of a caught error
// (an ApiError carries the node's message; anything thrown is shown, never "undefined").
import { html } from "./vendor/preact-htm.js";

/** @param {{ text: string }} props */
export const Err = ({ text }) => (text ? html`<p class="error">${text}</p>` : null);

/** @param {unknown} e */
export const messageOf = (e) => (e instanceof Error ? e.message : String(e));
