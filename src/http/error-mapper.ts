import { Elysia } from 'elysia';
import { AppError, RateLimitedError, translateDbError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { ErrorBody } from '../protocol/schemas';
import { errorBody } from './error-body';
import type { RequestMetas } from './request-log';

/** Elysia's validation error, reduced to what a client can act on: which field, what is wrong. */
function validationDetails(err: unknown): { path: string; message: string }[] | undefined {
  const all = (err as { all?: unknown }).all;
  if (!Array.isArray(all)) return undefined;
  return all.slice(0, 20).map((e: { path?: string; message?: string; summary?: string }) => ({
    path: e.path ?? '',
    message: e.summary ?? e.message ?? 'invalid',
  }));
}

/** A client status carried by an Elysia/Bun error (e.g. 413 from the body reader), if any. */
function clientStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/** Status and body for what Elysia's own error codes mean; undefined for anything else. */
function frameworkError(
  code: string | number,
  error: unknown,
): { status: number; body: ErrorBody } | undefined {
  switch (code) {
    case 'VALIDATION':
      return {
        status: 422,
        body: errorBody('validation_error', 'The request is not valid.', validationDetails(error)),
      };
    case 'PARSE':
      return {
        status: 400,
        body: errorBody('invalid_body', 'The request body could not be parsed (malformed JSON or form).'),
      };
    case 'NOT_FOUND':
      return { status: 404, body: errorBody('not_found', 'No such route.') };
    case 'INVALID_COOKIE_SIGNATURE':
    case 'INVALID_FILE_TYPE':
      return { status: 400, body: errorBody('bad_request', 'The request is not valid.') };
  }
  const status = clientStatus(error);
  if (status === undefined) return undefined;
  return {
    status,
    body: errorBody(status === 413 ? 'payload_too_large' : 'bad_request', 'The request is not valid.'),
  };
}

/**
 * One error vocabulary, mapped once: domain errors (AppError), database errors with a
 * meaning (translateDbError), Elysia's own (validation, parse, 404) and, last, anything
 * unexpected as a logged 500 without a stack trace in the answer.
 */
export function errorMapperPlugin(log: Logger, metas: RequestMetas) {
  return new Elysia({ name: 'hive.error-mapper' }).onError(
    { as: 'global' },
    ({ code, error, set, request }) => {
      // Elysia wraps anything thrown while parsing in a ParseError; our own errors (the capped
      // reader's 413) keep their meaning.
      const cause = code === 'PARSE' ? (error as { cause?: unknown }).cause : undefined;
      const appError =
        error instanceof AppError ? error : cause instanceof AppError ? cause : translateDbError(error);
      let mapped = appError
        ? { status: appError.status, body: errorBody(appError.code, appError.message, appError.details) }
        : frameworkError(code, error);
      if (appError instanceof RateLimitedError) set.headers['retry-after'] = String(appError.retryAfterS);
      // Overload or a dependency down: worth retrying soon, and saying so lets clients back off.
      else if (appError?.status === 503) set.headers['retry-after'] = '1';
      if (!mapped) {
        log.error('unhandled error', {
          request_id: metas.get(request)?.id,
          path: new URL(request.url).pathname,
          err: error,
          stack: error instanceof Error ? error.stack : undefined,
        });
        mapped = {
          status: 500,
          body: errorBody('internal_error', 'Something went wrong on our side; it has been logged.'),
        };
      }
      set.status = mapped.status;
      set.headers['content-type'] = 'application/json; charset=utf-8';
      return mapped.body;
    },
  );
}
