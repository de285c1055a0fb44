import { Elysia } from 'elysia';
import { AppError } from '../lib/errors';

/** Parameters such as `; charset=utf-8` are fine; `+json` types are not (Elysia would not parse them as JSON). */
const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

function hasBody(request: Request): boolean {
  const length = request.headers.get('content-length');
  return (length !== null && length !== '0') || request.headers.has('transfer-encoding');
}

/**
 * Request bodies are JSON. A form-encoded or multipart body (what an HTML form on any site
 * can send cross-origin without a preflight) or any other type gets 415 before parsing,
 * in the contract's error format. `formRoutes` also take `application/x-www-form-urlencoded`:
 * the login route, for the OAuth2 password form of Swagger's Authorize.
 */
export function jsonBodiesPlugin(formRoutes: readonly string[]) {
  return new Elysia({ name: 'hive.json-bodies' }).onRequest(({ request }) => {
    if (!hasBody(request)) return;
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === JSON_TYPE) return;
    const formAllowed = formRoutes.includes(new URL(request.url).pathname);
    if (formAllowed && type === FORM_TYPE) return;
    // Thrown, not returned, so the error mapper answers it and the log and metrics count it.
    throw new AppError(
      415,
      'unsupported_media_type',
      `Send the body as application/json${formAllowed ? ` or ${FORM_TYPE}` : ''}, not "${type.slice(0, 100) || 'no type'}".`,
    );
  });
}
