import { type AnyElysia, Elysia } from 'elysia';
import { asyncapiPlugin } from './http/asyncapi';
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
import { upgradeQueuePlugin, websocketServerOptions } from './realtime/ws';
import type { Feature, Runtime } from './runtime';

type AppDeps = Pick<Runtime, 'config' | 'log' | 'sql' | 'redis'>;

/** The cross-cutting plugins every route sits behind, and the API documents. */
function createBaseApp(rt: AppDeps) {
  const metas: RequestMetas = new WeakMap();
  return (
    new Elysia({
      serve: {
        // Bun's own hard limit sits well above ours so our JSON 413 answers first (see
        // bodyLimitPlugin). Past Bun's limit Bun answers a bare 413 itself.
        maxRequestBodySize: Math.max(rt.config.maxBodyBytes * 16, 16 * 1024 * 1024),
      },
      // Bun applies WebSocket limits server-wide (64 KiB frames → 1009, pings, idle timeout).
      websocket: websocketServerOptions,
    })
      // First: a connect storm's upgrade requests wait for their slice before any other hook.
      .use(upgradeQueuePlugin())
      .use(requestLogPlugin(rt.log, metas))
      .use(metricsPlugin())
      // Before anything that may answer early (CORS preflight, 413, 415), so those answers carry the headers too.
      .use(securityHeadersPlugin())
      .use(corsPlugin(rt.config.corsOrigins))
      .use(bodyLimitPlugin(rt.config.maxBodyBytes))
      .use(jsonBodiesPlugin(['/api/v1/auth/login']))
      .use(errorMapperPlugin(rt.log, metas))
      .use(openapiPlugin())
      .use(asyncapiPlugin())
      .model({ Error: ErrorBody })
      .use(healthPlugin(rt))
  );
}

/** The routes of every feature in the tuple `F`, merged as `.use()` merges them. */
type FeatureRoutes<F extends readonly Feature[]> = F extends readonly [
  infer Head,
  ...infer Tail extends readonly Feature[],
]
  ? (Head extends { routes: infer R extends AnyElysia } ? R['~Routes'] : unknown) & FeatureRoutes<Tail>
  : unknown;

type BaseApp = ReturnType<typeof createBaseApp>;
/** The app `createApp` builds from the features `F`: every route typed, for `treaty<App>()`. */
export type AppOf<F extends readonly Feature[]> = BaseApp & {
  '~Routes': BaseApp['~Routes'] & FeatureRoutes<F>;
};

/**
 * The HTTP app: the cross-cutting plugins, then every feature's routes, mounted one way.
 * Building it has no side effects (nothing connects or listens); `src/server.ts` does that.
 * Features are mounted in a loop, which TypeScript cannot follow, so the result is typed as
 * the base app plus the routes of each feature in the tuple (what chained `.use()`s give).
 */
export function createApp<const F extends readonly Feature[]>(rt: AppDeps, features: F): AppOf<F> {
  const app = createBaseApp(rt);
  for (const feature of features) if (feature.routes) app.use(feature.routes);
  return app as AppOf<F>;
}
