import { t } from 'elysia';
import { ErrorBody } from '../protocol/schemas';

/**
 * `limit` and `offset` of every paged list (users online, tasks, …), with the contract's
 * limits: `limit` 1-500, default 100; `offset` ≥ 0. The offset's ceiling is far beyond any
 * real page; it keeps the value inside PostgreSQL's bigint, so an absurd one is a 422, not a 500.
 */
export const Pagination = {
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
};

/** Shorthand for the response map of a route: its success schema plus the error body for each status. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]));
}

/** The one UUID pattern (ids in paths, token subjects, the `uuid` format checker). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}
