/**
 * What every route of the HTTP API shares, written once for the OpenAPI document: the
 * response headers, what each error status means here, and an example of each error body.
 * Route files reference the headers through `docHeaders`; the rest is filled in by
 * `src/http/openapi.ts` for every operation.
 */

const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

/** Response headers as OpenAPI header objects, listed once under `components.headers`. */
export const HEADER_COMPONENTS = {
  'X-Request-Id': {
    description:
      'The request id: the client’s own X-Request-Id when it is 1-128 characters of `[A-Za-z0-9_.:-]`, else a new UUID. Also in the server’s log line for the request.',
    required: true,
    schema: { type: 'string', maxLength: 128 },
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again.',
    schema: { type: 'integer', minimum: 0 },
  },
  'X-Total-Count': {
    description: 'How many items match the query in all (the body holds one page of them).',
    required: true,
    schema: { type: 'integer', minimum: 0 },
  },
  Location: {
    description: 'The path of the created resource.',
    required: true,
    schema: { type: 'string', examples: ['/api/v1/tasks/0b6f8c2e-3f5d-4c9a-9d7e-2b1a6c4e8f10'] },
  },
  ETag: {
    description:
      'Weak tag of the counts (`W/"v<version>"`, with a filter hash for filtered answers); send it back in If-None-Match.',
    required: true,
    schema: { type: 'string', examples: ['W/"v1234"'] },
  },
  'Cache-Control': {
    description: '`no-cache`: caches may keep the answer but must revalidate it (a cheap 304).',
    required: true,
    schema: { type: 'string', const: 'no-cache' },
  },
} as const;

/** `$ref`s to the headers above, for route metadata. */
export const docHeaders = {
  totalCount: { 'X-Total-Count': header('X-Total-Count') },
  location: { Location: header('Location') },
  etag: { ETag: header('ETag'), 'Cache-Control': header('Cache-Control') },
} as const;

interface StatusDoc {
  description: string;
  example?: { error: { code: string; message: string; details?: unknown } };
  headers?: Record<string, { $ref: string }>;
}

/** What a status means on any route, unless the route says more. */
export const STATUS_DOCS: Record<string, StatusDoc> = {
  '200': { description: 'OK' },
  '201': { description: 'Created' },
  '204': { description: 'Done; no body.' },
  '304': { description: 'Not Modified: If-None-Match named the current ETag; no body.' },
  '400': {
    description: 'The body could not be parsed: malformed JSON or form (`invalid_body`).',
    example: {
      error: {
        code: 'invalid_body',
        message: 'The request body could not be parsed (malformed JSON or form).',
      },
    },
  },
  '401': {
    description:
      'No access token, a malformed Authorization header, or a token that is expired, forged or names a deleted account (`unauthorized`, `invalid_token`).',
    example: {
      error: { code: 'unauthorized', message: 'Missing Authorization header; send "Bearer <access_token>".' },
    },
  },
  '403': {
    description: 'Signed in, but not allowed to do this (`forbidden`).',
    example: { error: { code: 'forbidden', message: 'You are not allowed to do this.' } },
  },
  '404': {
    description: 'No such resource (`not_found`).',
    example: { error: { code: 'not_found', message: 'Task was not found.' } },
  },
  '409': {
    description: 'Conflicts with an existing record (`email_taken` for a registered email, any letter case).',
    example: { error: { code: 'email_taken', message: 'That email is already registered.' } },
  },
  '413': {
    description: 'The body is larger than MAX_BODY_BYTES (default 1 MiB) (`payload_too_large`).',
    example: {
      error: {
        code: 'payload_too_large',
        message: 'The request body is larger than the limit of 1048576 bytes.',
      },
    },
  },
  '415': {
    description:
      'The body is not `application/json` (the login also takes `application/x-www-form-urlencoded`) (`unsupported_media_type`).',
    example: {
      error: {
        code: 'unsupported_media_type',
        message: 'Send the body as application/json, not "text/plain".',
      },
    },
  },
  '422': {
    description:
      'A field is missing, of the wrong type or out of range (`validation_error`); `details` lists each problem with its JSON pointer.',
    example: {
      error: {
        code: 'validation_error',
        message: 'The request is not valid.',
        details: [{ path: '/title', message: 'Expected string length greater or equal to 1' }],
      },
    },
  },
  '426': {
    description:
      'The token is good but the request was a plain GET: open a WebSocket instead (`upgrade_required`).',
    example: {
      error: {
        code: 'upgrade_required',
        message: 'This is a WebSocket endpoint; connect with a WebSocket client.',
      },
    },
  },
  '429': {
    description: 'Too many attempts; wait for Retry-After seconds (`rate_limited`).',
    headers: { 'Retry-After': header('Retry-After') },
    example: { error: { code: 'rate_limited', message: 'Too many attempts; try again later.' } },
  },
  '503': {
    description:
      'A dependency (the database, or the password-hashing queue when overloaded) is unavailable; retry after Retry-After seconds (`service_unavailable`).',
    headers: { 'Retry-After': header('Retry-After') },
    example: {
      error: {
        code: 'service_unavailable',
        message: 'A dependency (database) is unavailable; try again shortly.',
        details: { dependency: 'database' },
      },
    },
  },
};

/** The request-id header every response carries. */
export const REQUEST_ID_HEADER = { 'X-Request-Id': header('X-Request-Id') };

/** Tag descriptions, in the order Swagger UI shows them. */
export const TAGS = [
  { name: 'auth', description: 'Register and get an access token (JSON, or the OAuth2 password form).' },
  { name: 'users', description: 'Your own profile, and who is online.' },
  { name: 'tasks', description: 'The shared team board.' },
  { name: 'dashboard', description: 'Exact, live task and user counts; public, no personal data.' },
  { name: 'realtime', description: 'The WebSocket: see the AsyncAPI document at /asyncapi.json.' },
  { name: 'operations', description: 'Liveness and readiness probes.' },
];
