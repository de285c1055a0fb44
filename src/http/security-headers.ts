import { Elysia } from 'elysia';
import { AppError } from '../lib/errors';

/** Methods no route serves and that only help attacks (TRACE reflects requests: cross-site tracing). */
const REFUSED_METHODS = new Set(['TRACE', 'TRACK', 'CONNECT']);
export const SERVED_METHODS = 'GET, HEAD, POST, PATCH, DELETE, OPTIONS';

/**
 * Headers every answer gets, set before anything else runs so errors and early answers carry
 * them too: `X-Content-Type-Options: nosniff` (a browser never second-guesses a JSON body as
 * HTML or script) and `Cache-Control: no-store` (API answers carry personal data and tokens;
 * no shared or browser cache should keep them). A route that knows better sets its own and
 * wins: the summary's `no-cache` + ETag, the page's revalidated assets.
 */
export function securityHeadersPlugin() {
  return new Elysia({ name: 'hive.security-headers' }).onRequest(({ request, set }) => {
    set.headers['x-content-type-options'] = 'nosniff';
    set.headers['cache-control'] = 'no-store';
    if (REFUSED_METHODS.has(request.method)) {
      set.headers.allow = SERVED_METHODS;
      // Thrown, not returned, so the error mapper answers it and the log and metrics count it.
      throw new AppError(
        405,
        'method_not_allowed',
        `${request.method} is not served; use ${SERVED_METHODS}.`,
      );
    }
  });
}
