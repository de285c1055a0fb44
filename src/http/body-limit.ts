import { Elysia, ParseError } from 'elysia';
import { PayloadTooLargeError } from '../lib/errors';
import { errorBody } from './error-body';

/** The body as text, or PayloadTooLargeError as soon as more than `limit` bytes have arrived. */
async function readCapped(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new PayloadTooLargeError(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Request bodies over `maxBytes` get the contract's 413. A declared Content-Length is refused
 * in onRequest, before anything is read; a body without one (chunked) is read by a capped
 * reader that stops at the limit, then parsed as Elysia would. Bodies with a Content-Length
 * (already within the limit) keep Elysia's own parsers.
 */
export function bodyLimitPlugin(maxBytes: number) {
  return new Elysia({ name: 'hive.body-limit' })
    .onRequest(({ request, set }) => {
      const length = request.headers.get('content-length');
      if (length !== null && Number(length) > maxBytes) {
        set.status = 413;
        const e = new PayloadTooLargeError(maxBytes);
        return errorBody(e.code, e.message);
      }
    })
    .onParse({ as: 'global' }, async ({ request, contentType }) => {
      if (request.headers.has('content-length') || !request.body) return;
      const text = await readCapped(request.body, maxBytes);
      const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (type === 'application/json' || type.endsWith('+json')) {
        try {
          return JSON.parse(text);
        } catch (err) {
          throw new ParseError(err as Error);
        }
      }
      if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
      return text;
    });
}
