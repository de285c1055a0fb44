/**
 * The page's view of the HTTP API (see CONTRACT.md). Every failure becomes one of three
 * kinds the page can show plainly: not signed in (401), unreachable (network error or 5xx),
 * or a request the server refused (4xx with the contract's error body). Resource types come
 * from the protocol's schemas as types only: the page bundle carries no TypeBox or Elysia.
 */
import type {
  DashboardSummary as Summary,
  TrendPoint as TrendDay,
  UserPrivate,
  UserPublic,
} from '../../protocol/schemas';
import { DIMENSIONS, type Filters } from './labels';

export class UnauthorizedError extends Error {
  override name = 'UnauthorizedError';
}

export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new UnreachableError('The server cannot be reached.');
  }
  if (res.status === 401) throw new UnauthorizedError('Not signed in, or the session has expired.');
  if (res.status >= 500) {
    throw new UnreachableError(
      res.status === 503
        ? 'The server is up but a dependency is down.'
        : 'The server answered with an error.',
    );
  }
  if (res.status >= 400) {
    let code = 'error';
    let message = `Request failed (${res.status}).`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // keep the generic message
    }
    throw new RequestError(res.status, code, message);
  }
  return res;
}

function bearer(token: string): HeadersInit {
  return { authorization: `Bearer ${token}` };
}

export function summaryPath(filters: Filters): string {
  const params = new URLSearchParams();
  for (const key of DIMENSIONS) {
    const value = filters[key];
    if (value !== undefined) params.set(key, value);
  }
  const query = params.toString();
  return `/api/v1/dashboard/summary${query ? `?${query}` : ''}`;
}

/**
 * Summaries by URL with their ETags: a poll sends If-None-Match and a 304 reuses the body we
 * already have, so an idle dashboard costs the server almost nothing.
 */
const summaryCache = new Map<string, { etag: string; summary: Summary }>();

export async function fetchSummary(filters: Filters): Promise<{ summary: Summary; changed: boolean }> {
  const path = summaryPath(filters);
  const cached = summaryCache.get(path);
  const res = await call(path, { headers: cached ? { 'if-none-match': cached.etag } : {} });
  if (res.status === 304 && cached) return { summary: cached.summary, changed: false };
  const summary = (await res.json()) as Summary;
  const etag = res.headers.get('etag');
  if (etag) summaryCache.set(path, { etag, summary });
  return { summary, changed: true };
}

export async function fetchTrends(days = 30): Promise<TrendDay[]> {
  const res = await call(`/api/v1/dashboard/trends?days=${days}`);
  return (await res.json()) as TrendDay[];
}

export async function login(email: string, password: string): Promise<{ token: string; expiresIn: number }> {
  const res = await call('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const body = (await res.json()) as { access_token: string; expires_in: number };
  return { token: body.access_token, expiresIn: body.expires_in };
}

export async function fetchMe(token: string): Promise<UserPrivate> {
  const res = await call('/api/v1/users/me', { headers: bearer(token) });
  return (await res.json()) as UserPrivate;
}

export async function fetchOnline(token: string): Promise<{ users: UserPublic[]; total: number }> {
  const res = await call('/api/v1/users/online?limit=200', { headers: bearer(token) });
  const users = (await res.json()) as UserPublic[];
  const total = Number(res.headers.get('x-total-count') ?? users.length);
  return { users, total: Number.isFinite(total) ? total : users.length };
}
