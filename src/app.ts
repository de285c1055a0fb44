import { Elysia } from 'elysia';
import { bodyLimitPlugin } from './http/body-limit';
import { corsPlugin } from './http/cors';
import { errorMapperPlugin } from './http/error-mapper';
import { healthPlugin } from './http/health';
import { jsonBodiesPlugin } from './http/json-bodies';
import { metricsPlugin } from './http/metrics';
import { openapiPlugin } from './http/openapi';
import { type RequestMetas, requestLogPlugin } from './http/request-log';
import { securityHeadersPlugin } from './http/security-headers';
import { ErrorBody } from './protocol/schemas';
import { websocketServerOptions } from './realtime/ws';
import type { Feature, Runtime } from './runtime';

/**
 * The HTTP app: the cross-cutting plugins, then every feature's routes, mounted one way.
 * Building it has no side effects (nothing connects or listens); `src/server.ts` does that.
 */
export function createApp(rt: Pick<Runtime, 'config' | 'log' | 'sql' | 'redis'>, features: Feature[]) {
  const metas: RequestMetas = new WeakMap();
  const app = new Elysia({
    serve: {
      // Bun's own hard limit sits well above ours so our JSON 413 answers first (see
      // bodyLimitPlugin). Past Bun's limit Bun answers a bare 413 itself.
      maxRequestBodySize: Math.max(rt.config.maxBodyBytes * 16, 16 * 1024 * 1024),
    },
    // Bun applies WebSocket limits server-wide (64 KiB frames → 1009, pings, idle timeout).
    websocket: websocketServerOptions,
  })
    .use(requestLogPlugin(rt.log, metas))
    .use(metricsPlugin())
    // Before anything that may answer early (CORS preflight, 413, 415), so those answers carry the headers too.
    .use(securityHeadersPlugin())
    .use(corsPlugin(rt.config.corsOrigins))
    .use(bodyLimitPlugin(rt.config.maxBodyBytes))
    .use(jsonBodiesPlugin(['/api/v1/auth/login']))
    .use(errorMapperPlugin(rt.log, metas))
    .use(openapiPlugin())
    .model({ Error: ErrorBody })
    .use(healthPlugin(rt));
  for (const feature of features) if (feature.routes) app.use(feature.routes);
  return app;
}
