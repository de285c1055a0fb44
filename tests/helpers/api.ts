import { responseCheckerFor } from './openapi-validate';

/**
 * A small HTTP client for tests: real requests over real sockets. Every response to a route
 * the server's OpenAPI document describes is checked against it (status, body schema,
 * documented headers), so any test that sees the server answer differently from its
 * document fails, naming the route, the status and what did not match.
 */
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export function apiClient(baseUrl: string) {
  async function request<T = any>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: BodyInit } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: BodyInit | undefined = opts.raw;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if (text && res.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
    const mismatch = (await responseCheckerFor(baseUrl))?.check(
      method,
      res.url,
      res.status,
      res.headers,
      parsed,
    );
    if (mismatch) throw new Error(`response does not match the OpenAPI document: ${mismatch}`);
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  let counter = 0;
  return {
    request,
    get: <T = any>(path: string, token?: string) => request<T>('GET', path, { token }),
    post: <T = any>(path: string, body: unknown, token?: string) => request<T>('POST', path, { body, token }),
    patch: <T = any>(path: string, body: unknown, token?: string) =>
      request<T>('PATCH', path, { body, token }),
    delete: <T = any>(path: string, token?: string) => request<T>('DELETE', path, { token }),

    /** Register a fresh user and log in; returns its id, email and token. */
    async newUser(fullName = 'Test User', password = 'correct horse battery') {
      counter += 1;
      const email = `user${counter}.${Math.random().toString(36).slice(2, 8)}@example.com`;
      const reg = await request('POST', '/api/v1/auth/register', {
        body: { email, password, full_name: fullName },
      });
      if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${JSON.stringify(reg.body)}`);
      const login = await request('POST', '/api/v1/auth/login', { body: { email, password } });
      if (login.status !== 200)
        throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
      return {
        id: reg.body.id as string,
        email,
        password,
        token: login.body.access_token as string,
        fullName,
      };
    },
  };
}
