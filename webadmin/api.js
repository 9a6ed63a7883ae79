// The WebAdmin's only way to the node: the JSON admin API the CLI uses, authenticated by the
// session cookie (sent by the browser, HttpOnly) and the session's CSRF token, which this module
// holds in memory and sends in X-CSRF-Token on every request.
let csrf = "";

export const setCsrf = (token) => {
  csrf = token;
};

export class ApiError extends Error {
  /** body: the answer's JSON (e.g. a refused script's errors with line and column), or null. */
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function call(url, method, body) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { accept: "application/json", "x-csrf-token": csrf },
  };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  let data;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    if (res.status === 401 && url.startsWith("/api/")) window.dispatchEvent(new Event("mailyard-logged-out"));
    throw new ApiError(res.status, (data && data.error) || `HTTP ${res.status}`, data);
  }
  return data;
}

/** A call of the admin API: path below /api/. */
export const api = (method, path, body) => call(`/api/${path}`, method, body);
/** The login endpoints below /admin/. */
export const session = (method, path, body) => call(`/admin/${path}`, method, body);
export const seg = encodeURIComponent;
