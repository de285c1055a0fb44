import { t } from 'elysia';

/** The contract's error body. Every 4xx/5xx answer has this shape. */
export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ description: 'snake_case machine-readable code', examples: ['validation_error'] }),
      message: t.String({ description: 'a human sentence' }),
      details: t.Optional(t.Unknown()),
    }),
  },
  { $id: '#/components/schemas/Error', title: 'Error' },
);
export type ErrorBody = typeof ErrorBody.static;

/** Ids are opaque strings to clients; the server issues UUIDs. */
export const Id = t.String({ format: 'uuid', description: 'opaque identifier' });
export const Timestamp = t.String({ format: 'date-time', description: 'ISO-8601 UTC' });

export const Pagination = {
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
};

/** Shorthand for the response map of a route: its success schema plus the error body for each status. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]));
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}
