import { openapi } from '@elysiajs/openapi';

/** The OpenAPI document at `/swagger/json` and Swagger UI at `/swagger`. */
export function openapiPlugin() {
  return openapi({
    path: '/swagger',
    specPath: '/swagger/json',
    provider: 'swagger-ui',
    exclude: { paths: ['/', '/assets/*', '/app.js', '/app.css'] },
    documentation: {
      info: {
        title: 'HIVE API',
        version: '1.0.0',
        description:
          'Team task coordination: accounts, tasks, live presence and dashboard analytics. Errors are always `{"error": {"code", "message"}}`. WebSocket: `GET /ws?token=<access_token>` (see README).',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          oauth2: {
            type: 'oauth2',
            flows: { password: { tokenUrl: '/api/v1/auth/login', scopes: {} } },
          },
        },
      },
    },
  });
}
