import { Elysia } from 'elysia';
import type { Logger } from '../lib/logger';

/** When a request started and the id it answers under; read by the log and the error mapper. */
export interface RequestMeta {
  id: string;
  at: number;
}

/** Request metadata by request: set once in onRequest, read by later hooks. */
export type RequestMetas = WeakMap<Request, RequestMeta>;

/**
 * Request ids and access logs: each request gets an id (the client's `X-Request-Id` when it
 * is sane, else a UUID), echoed in the response and in one JSON log line when it is answered.
 */
export function requestLogPlugin(log: Logger, metas: RequestMetas) {
  return new Elysia({ name: 'hive.request-log' })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get('x-request-id');
      const id = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID();
      metas.set(request, { id, at: performance.now() });
      set.headers['x-request-id'] = id;
    })
    .onAfterResponse({ as: 'global' }, ({ request, set }) => {
      const meta = metas.get(request);
      if (!meta) return;
      const status = typeof set.status === 'number' ? set.status : 200;
      const path = new URL(request.url).pathname;
      if (path === '/health' && status === 200) return; // probes every few seconds would drown the log
      log.info('request', {
        request_id: meta.id,
        method: request.method,
        path,
        status,
        duration_ms: Math.round((performance.now() - meta.at) * 100) / 100,
      });
    });
}
