import { Elysia } from 'elysia';
import { SERVED_METHODS } from './security-headers';

/** What a browser app on an allowed origin may send and read (the API's own headers included). */
const ALLOWED_HEADERS = 'authorization, content-type, if-none-match, x-request-id';
const EXPOSED_HEADERS = 'etag, location, retry-after, x-request-id, x-total-count';
/** Browsers cache a preflight this long (seconds), so a page does not preflight every call. */
const PREFLIGHT_MAX_AGE_S = '600';

/**
 * CORS, with the origins of CORS_ORIGINS (`*` for any). Default none: same-origin only, so a
 * foreign page cannot read API answers with a token it got hold of. Tokens travel in the
 * Authorization header, never in cookies, so credentials mode is not offered. Every OPTIONS
 * gets 204 with `Allow` (never 404); a preflight from an allowed origin also gets the
 * `Access-Control-Allow-*` headers, one from any other origin gets none, and the browser
 * blocks the call.
 */
export function corsPlugin(origins: readonly string[]) {
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins);
  return new Elysia({ name: 'hive.cors' }).onRequest(({ request, set }) => {
    const origin = request.headers.get('origin');
    const permitted = origin !== null && (anyOrigin || allowed.has(origin));
    // The answer depends on Origin whenever a list is configured: caches must key on it.
    if (allowed.size > 0 && !anyOrigin) set.headers.vary = 'Origin';
    if (permitted) {
      set.headers['access-control-allow-origin'] = anyOrigin ? '*' : origin;
      set.headers['access-control-expose-headers'] = EXPOSED_HEADERS;
    }
    if (request.method !== 'OPTIONS') return;
    set.headers.allow = SERVED_METHODS;
    if (permitted && request.headers.has('access-control-request-method')) {
      set.headers['access-control-allow-methods'] = SERVED_METHODS;
      set.headers['access-control-allow-headers'] = ALLOWED_HEADERS;
      set.headers['access-control-max-age'] = PREFLIGHT_MAX_AGE_S;
    }
    return new Response(null, { status: 204 });
  });
}
