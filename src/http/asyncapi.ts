import { Elysia, type TSchema } from 'elysia';
import { CLIENT_FRAME_PAYLOADS, FRAME_SUMMARIES, SERVER_FRAME_PAYLOADS } from '../protocol/frame-schemas';
import { CLIENT_FRAME_TYPES, CloseCodes, SERVER_FRAME_TYPES, WS_LIMITS } from '../protocol/frames';
import { componentCollector, type JsonSchema, type NormaliseOptions, schemaOrRef } from './json-schema';

/**
 * The AsyncAPI 3 document for `/ws`, at `/asyncapi.json`: the token, every frame in both
 * directions with its payload schema, the close codes and the limits. It is generated from
 * the protocol module (frame lists and payload schemas in src/protocol/, close codes and
 * limits in frames.ts), so a frame added there appears here; resource schemas (Task,
 * UserStatus, DashboardSummary…) are the same JSON as the OpenAPI document's components.
 * Written from the server's point of view: it `send`s server frames and `receive`s client ones.
 */

export const ASYNCAPI_PATH = '/asyncapi.json';

const ADVICE = {
  reconnect: 'reconnect with backoff (possibly to another instance)',
  sign_in: 'get a new access token first, then reconnect',
  stop: 'do not reconnect',
} as const;

function closeCodeTable(): string {
  const rows = Object.values(CloseCodes).map((c) => `| ${c.code} | ${c.reason} | ${ADVICE[c.advice]} |`);
  return ['| code | reason | what a client should do |', '| --- | --- | --- |', ...rows].join('\n');
}

const DESCRIPTION = () =>
  [
    'Live presence, task and dashboard events for HIVE. Open `/ws?token=<access_token>` with a token from `POST /api/v1/auth/login` (HTTP API: OpenAPI at [/swagger/json](/swagger/json), Swagger UI at [/swagger](/swagger)). The token is checked before the upgrade: a missing, expired or forged one gets an HTTP 401 with the usual error body and no socket; a plain GET with a good token gets 426.',
    '',
    'Every frame is a JSON text message `{"type": "...", "data": {...}}`; `data` is absent on bare frames (`ping`, `pong`).',
    '',
    '**Limits**',
    `- frames over ${WS_LIMITS.maxFrameBytes} bytes close the socket with 1009;`,
    `- more than ${WS_LIMITS.floodRatePerS} messages/s sustained (token bucket, burst of ${WS_LIMITS.floodBurst}) close it with 1008;`,
    `- the server pings idle sockets and drops a peer silent for ${WS_LIMITS.idleTimeoutS} s;`,
    '- a client that stops reading is closed once 1 MiB is queued for it;',
    '- the socket closes with 4001 when the access token it was opened with expires.',
    '',
    '**Close codes**',
    '',
    closeCodeTable(),
  ].join('\n');

/** A plausible value for a schema, from its `examples` where it has them (for message examples). */
function exampleOf(schema: unknown, components: Record<string, JsonSchema>): unknown {
  const s = schema as JsonSchema;
  if (typeof s.$ref === 'string') return exampleOf(components[s.$ref.split('/').pop()!], components);
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (Array.isArray(s.enum)) return s.enum[0];
  if (s.const !== undefined) return s.const;
  if (s.format === 'uuid') return '0b6f8c2e-3f5d-4c9a-9d7e-2b1a6c4e8f10';
  if (s.type === 'array') return [exampleOf(s.items ?? {}, components)];
  if (s.type === 'object') {
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, exampleOf(v, components)]));
  }
  return s.type === 'integer' || s.type === 'number' ? 0 : s.type === 'boolean' ? false : 'text';
}

function message(type: string, payload: TSchema | null, norm: NormaliseOptions) {
  const data = payload ? schemaOrRef(payload, norm) : undefined;
  return {
    name: type,
    title: type,
    summary: FRAME_SUMMARIES[type as keyof typeof FRAME_SUMMARIES],
    contentType: 'application/json',
    payload: {
      type: 'object',
      required: data ? ['type', 'data'] : ['type'],
      properties: { type: { type: 'string', const: type }, ...(data ? { data } : {}) },
    },
  };
}

function channelAndOperations(norm: NormaliseOptions) {
  const messages: Record<string, ReturnType<typeof message>> = {};
  const operations: Record<string, unknown> = {};
  const frames = [
    ...SERVER_FRAME_TYPES.map((type) => ({ type, action: 'send', payload: SERVER_FRAME_PAYLOADS[type] })),
    ...CLIENT_FRAME_TYPES.map((type) => ({ type, action: 'receive', payload: CLIENT_FRAME_PAYLOADS[type] })),
  ];
  for (const { type, action, payload } of frames) {
    messages[type] = message(type, payload, norm);
    operations[`${action}_${type}`] = {
      action,
      title: `${action === 'send' ? 'Server → client' : 'Client → server'}: ${type}`,
      summary: FRAME_SUMMARIES[type],
      channel: { $ref: '#/channels/socket' },
      messages: [{ $ref: `#/channels/socket/messages/${type}` }],
    };
  }
  return { messages, operations };
}

/** The whole document; `host` and `secure` come from the request, so tools connect back here. */
export function buildAsyncApiDocument(host: string, secure: boolean) {
  const { components, options } = componentCollector();
  const { messages, operations } = channelAndOperations(options);
  for (const m of Object.values(messages)) {
    const { data } = m.payload.properties as { data?: unknown };
    const example = { type: m.name, ...(data ? { data: exampleOf(data, components) } : {}) };
    Object.assign(m, { examples: [{ name: m.name, payload: example }] });
  }
  return {
    asyncapi: '3.0.0',
    info: { title: 'HIVE WebSocket', version: '1.0.0', description: DESCRIPTION() },
    defaultContentType: 'application/json',
    servers: {
      hive: {
        host,
        protocol: secure ? 'wss' : 'ws',
        description: 'This server.',
        security: [{ $ref: '#/components/securitySchemes/accessToken' }],
      },
    },
    channels: {
      socket: {
        address: '/ws',
        title: 'The HIVE socket',
        description: 'One socket per browser tab; every frame goes through it.',
        servers: [{ $ref: '#/servers/hive' }],
        messages: Object.fromEntries(
          Object.keys(messages).map((k) => [k, { $ref: `#/components/messages/${k}` }]),
        ),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              required: ['token'],
              properties: {
                token: { type: 'string', description: 'An access token from POST /api/v1/auth/login.' },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations,
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      messages,
      securitySchemes: {
        accessToken: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'The access token in the query string (browsers cannot set headers on a WebSocket).',
        },
      },
    },
  };
}

export function asyncapiPlugin() {
  return new Elysia({ name: 'hive.asyncapi' }).get(
    ASYNCAPI_PATH,
    ({ request }) => {
      const url = new URL(request.url);
      const secure = request.headers.get('x-forwarded-proto') === 'https' || url.protocol === 'https:';
      return buildAsyncApiDocument(request.headers.get('host') ?? url.host, secure);
    },
    { detail: { hide: true } },
  );
}
