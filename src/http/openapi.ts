import { toOpenAPISchema } from '@elysiajs/openapi';
import { Kind } from '@sinclair/typebox';
import { type AnyElysia, Elysia, type InternalRoute } from 'elysia';
import { ErrorBody } from '../protocol/schemas';
import { ASYNCAPI_PATH } from './asyncapi';
import { componentCollector, type JsonSchema, type NormaliseOptions, schemaOrRef } from './json-schema';
import { HEADER_COMPONENTS, REQUEST_ID_HEADER, STATUS_DOCS, TAGS } from './openapi-vocabulary';
import { swaggerUiPlugin } from './swagger-ui';

export { docHeaders } from './openapi-vocabulary';

export const OPENAPI_PATH = '/swagger/json';

/**
 * The OpenAPI 3.1 document at `/swagger/json`, and Swagger UI at `/swagger`.
 *
 * `@elysiajs/openapi` generates paths, parameters and responses from each route's TypeBox
 * schemas; this module then makes the result exact (it is checked by swagger-parser, Redocly,
 * Spectral, openapi-typescript and every response the integration tests see):
 * - named schemas (`$id`) become `components.schemas` and `$ref`s, Elysia's numeric coercion is
 *   undone (integers stay integers): see ./json-schema.ts;
 * - request bodies get their schema back (the generator drops it when a global body parser is
 *   installed, as ./body-limit.ts does), as JSON, plus the media types and examples a route's
 *   `detail.requestBody` lists (the login form);
 * - statuses every body route can answer (400 `invalid_body`, 413, 415) and the `X-Request-Id`
 *   header every response carries are added here, once, as the plugins that cause them are
 *   global; descriptions, examples and headers per status come from ./openapi-vocabulary.ts
 *   and from the route's `detail.responses`;
 * - no trailing slash on paths, `security: []` on public routes, no body on 204/304.
 */

const INFO = {
  title: 'HIVE API',
  version: '1.0.0',
  license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
  description: [
    'Team task coordination: accounts, a shared task board, live presence and exact dashboard analytics.',
    '',
    '- JSON under `/api/v1`; times are ISO-8601 UTC strings; ids are opaque strings.',
    '- Protected routes take `Authorization: Bearer <access_token>` from `POST /api/v1/auth/login`. In Swagger UI, **Authorize** logs in with the OAuth2 password form (email as username).',
    '- Every error is `{"error": {"code", "message", "details"?}}` (the `Error` schema), never a stack trace.',
    `- The WebSocket at \`/ws\` (live presence, task and dashboard events) is described by the AsyncAPI 3 document at [${ASYNCAPI_PATH}](${ASYNCAPI_PATH}).`,
  ].join('\n'),
};

const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from POST /api/v1/auth/login.',
  },
  oauth2: {
    type: 'oauth2',
    description: 'The same login as an OAuth2 password form: username = email.',
    flows: { password: { tokenUrl: '/api/v1/auth/login', scopes: {} } },
  },
};

type Operation = Record<string, unknown> & {
  parameters?: JsonSchema[];
  responses?: Record<string, JsonSchema>;
  security?: unknown[];
};
type RouteDetail = {
  parameters?: JsonSchema[];
  requestBody?: { description?: string; content?: Record<string, JsonSchema> };
  responses?: Record<string, { description?: string; headers?: JsonSchema }>;
};

/** `/api/v1/tasks/:id/` → `/api/v1/tasks/{id}`: the paths the README writes. */
function openApiPath(path: string): string {
  const braces = path.replace(/:([^/]+)/g, '{$1}');
  return braces.length > 1 && braces.endsWith('/') ? braces.slice(0, -1) : braces;
}

/** The TypeBox schema a route declares for a query or path parameter, if any. */
function declaredParameter(route: InternalRoute, where: unknown, name: string): unknown {
  const holder = where === 'query' ? route.hooks.query : where === 'path' ? route.hooks.params : undefined;
  return (holder as { properties?: Record<string, unknown> } | undefined)?.properties?.[name];
}

function describeParameters(
  route: InternalRoute,
  op: Operation,
  detail: RouteDetail,
  norm: NormaliseOptions,
) {
  const own = detail.parameters ?? [];
  const generated = op.parameters === own ? [] : (op.parameters ?? []);
  const all = [
    ...generated.map((p) => {
      const declared = declaredParameter(route, p.in, String(p.name));
      const schema = schemaOrRef(declared ?? p.schema, norm) as JsonSchema;
      const description = p.description ?? schema.description;
      return { ...p, ...(description ? { description } : {}), schema };
    }),
    ...own,
  ];
  return all.length > 0 ? all : undefined;
}

function describeRequestBody(route: InternalRoute, detail: RouteDetail, norm: NormaliseOptions) {
  const body = route.hooks.body;
  if (!body || typeof body !== 'object') return undefined;
  const schema = schemaOrRef(body, norm);
  const media = detail.requestBody?.content ?? { 'application/json': {} };
  return {
    ...(detail.requestBody?.description ? { description: detail.requestBody.description } : {}),
    required: true,
    content: Object.fromEntries(Object.entries(media).map(([type, m]) => [type, { schema, ...m }])),
  };
}

/** The TypeBox schema a route declares for a status (a lone schema means 200). */
function declaredResponse(route: InternalRoute, status: string): unknown {
  const response = route.hooks.response as Record<string, unknown> | undefined;
  if (!response || typeof response !== 'object') return undefined;
  return Kind in response ? (status === '200' ? response : undefined) : response[status];
}

/**
 * One response: our description and headers; the body schema normalised from the route's own
 * TypeBox schema (the same path the AsyncAPI document takes); no body on 204/304.
 */
function describeResponse(
  route: InternalRoute,
  status: string,
  generated: JsonSchema,
  norm: NormaliseOptions,
) {
  const detail = (route.hooks.detail ?? {}) as RouteDetail;
  const defaults = STATUS_DOCS[status];
  const own = detail.responses?.[status] ?? {};
  const headers = { ...REQUEST_ID_HEADER, ...defaults?.headers, ...(own.headers as object) };
  // The generator's own text ("Response for status 200") says nothing: ours replaces it.
  const generatedDescription = String(generated.description ?? '');
  const description =
    own.description ||
    (generatedDescription.startsWith('Response for status') ? '' : generatedDescription) ||
    defaults?.description ||
    `Status ${status}`;
  const content = generated.content as Record<string, { schema?: unknown }> | undefined;
  const media = content && typeof content.type !== 'string' ? Object.entries(content) : [];
  const isError = Number(status) >= 400;
  const described = media.map(([type, m]) => {
    const example = isError && type === 'application/json' ? defaults?.example : undefined;
    const schema = schemaOrRef(declaredResponse(route, status) ?? m.schema, norm);
    return [type, { schema, ...(example ? { example } : {}) }];
  });
  return {
    description,
    headers,
    ...(described.length > 0 && status !== '204' && status !== '304'
      ? { content: Object.fromEntries(described) }
      : {}),
  };
}

const ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

function describeResponses(route: InternalRoute, op: Operation, hasBody: boolean, norm: NormaliseOptions) {
  const detail = (route.hooks.detail ?? {}) as RouteDetail;
  const responses: Record<string, unknown> = {};
  for (const [status, generated] of Object.entries(op.responses ?? {}))
    responses[status] = describeResponse(route, status, generated, norm);
  // Statuses only the metadata knows (e.g. 101 for the WebSocket upgrade) have no body.
  for (const status of Object.keys(detail.responses ?? {}))
    responses[status] ??= describeResponse(route, status, {}, norm);
  // The body parser, the body limit and the JSON-only rule are global plugins: every body
  // route can answer these.
  if (hasBody)
    for (const status of ['400', '413', '415'])
      responses[status] ??= describeResponse(route, status, { content: ERROR_CONTENT }, norm);
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

function describeOperation(route: InternalRoute, op: Operation, norm: NormaliseOptions) {
  const detail = (route.hooks.detail ?? {}) as RouteDetail;
  const requestBody = describeRequestBody(route, detail, norm);
  const parameters = describeParameters(route, op, detail, norm);
  const { parameters: _p, requestBody: _b, responses: _r, hide: _h, ...rest } = op;
  return {
    ...rest,
    ...(parameters ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: describeResponses(route, op, requestBody !== undefined, norm),
    security: op.security ?? [],
  };
}

/** The whole document for the routes of `app` (the global routes of the app it is mounted in). */
export function buildOpenApiDocument(app: AnyElysia) {
  const generated = toOpenAPISchema(app, undefined, undefined, undefined, '3.1.0') as unknown as {
    paths: Record<string, Record<string, Operation>>;
  };
  const routes = (app as unknown as { getGlobalRoutes(): InternalRoute[] }).getGlobalRoutes();
  const { components, options } = componentCollector();
  schemaOrRef(ErrorBody, options); // listed even before a route uses it: every error has this shape
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const method = route.method.toLowerCase();
    const elysiaPath = route.path.replace(/:([^/]+)/g, '{$1}');
    const op = generated.paths[elysiaPath]?.[method];
    if (!op || method === 'ws') continue; // hidden, static, or the socket itself (see AsyncAPI)
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [method]: describeOperation(route, op, options) };
  }
  return {
    openapi: '3.1.0',
    info: INFO,
    servers: [{ url: '/', description: 'this server' }],
    tags: TAGS,
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      headers: HEADER_COMPONENTS,
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

/**
 * `/swagger/json` and Swagger UI. The document is built on first request and rebuilt only
 * if routes were added since (they are not, once the server listens).
 */
export function openapiPlugin() {
  let cached: { routes: number; doc: ReturnType<typeof buildOpenApiDocument> } | undefined;
  // Not typed AnyElysia: that would erase the route types of the whole app (see App in src/server.ts).
  const plugin = new Elysia({ name: 'hive.openapi' });
  return plugin.use(swaggerUiPlugin(OPENAPI_PATH)).get(
    OPENAPI_PATH,
    () => {
      const routes = (plugin as unknown as { getGlobalRoutes(): InternalRoute[] }).getGlobalRoutes().length;
      if (cached?.routes !== routes) cached = { routes, doc: buildOpenApiDocument(plugin as AnyElysia) };
      return cached.doc;
    },
    { detail: { hide: true } },
  );
}
