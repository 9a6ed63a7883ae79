// Calls to a test's admin API on 127.0.0.1, as the CLI and the WebAdmin make them: a bearer token
// (or another authorization value), a JSON body, a JSON answer. Each reply's raw text can be
// kept (seen), for tests that check what the API never says (a private key, a secret).
export interface ApiReply {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

export type ApiCall = (method: string, path: string, body?: unknown, auth?: string) => Promise<ApiReply>;

/** `path` is below /api/; `auth` defaults to the token as a bearer. */
export function adminApi(port: number, token: string, seen?: string[]): ApiCall {
  return async (method, path, body, auth = `Bearer ${token}`) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/${path}`, {
      method,
      headers: { authorization: auth, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    seen?.push(text);
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  };
}
