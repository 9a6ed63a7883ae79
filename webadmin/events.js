// The pages' handlers of form fields, typed: an htm template gives a handler no event type, so
// these read the value of the input, select or textarea the event came from, or a checkbox's
// state, and hand it on.

/** @typedef {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} Field */

/**
 * @param {(value: string) => void} fn
 * @returns {(e: Event) => void}
 */
export const withValue = (fn) => (e) => fn(/** @type {Field} */ (e.target).value);

/**
 * @param {(checked: boolean) => void} fn
 * @returns {(e: Event) => void}
 */
export const withChecked = (fn) => (e) => fn(/** @type {HTMLInputElement} */ (e.target).checked);
