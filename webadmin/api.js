// The WebAdmin's only way to the node: the JSON admin API the CLI uses, authenticated by the
// session cookie (sent by the browser, HttpOnly) and the session's CSRF token, which this module
// holds in memory and sends in X-CSRF-Token on every request. Answers are `unknown` here: each
// caller states the answer type it reads (webadmin/api-types.d.ts).
let csrf = "";

/** @param {string} token */
export const setCsrf = (token) => {
  csrf = token;
};

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {import("./api-types.js").ErrorBody | null} body the answer's JSON (e.g. a refused
   *   script's errors with line and column), or null.
   */
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * @param {string} url
 * @param {string} method
 * @param {unknown} body
 * @returns {Promise<unknown>}
 */
async function call(url, method, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: "application/json", "x-csrf-token": csrf };
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin", headers };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  /** @type {unknown} */
  let data;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401 && url.startsWith("/api/")) window.dispatchEvent(new Event("mailyard-logged-out"));
    const error = /** @type {import("./api-types.js").ErrorBody | null} */ (data);
    throw new ApiError(res.status, (error && error.error) || `HTTP ${res.status}`, error);
  }
  return data;
}

/**
 * A call of the admin API: path below /api/.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export const api = (method, path, body) => call(`/api/${path}`, method, body);
/**
 * The login endpoints below /admin/.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export const session = (method, path, body) => call(`/admin/${path}`, method, body);
export const seg = encodeURIComponent;
