/**
 * One error vocabulary. Services throw these; `src/http/error-mapper.ts` maps them once, in `onError`,
 * to the contract's body `{"error": {"code", "message", "details"?}}`.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(422, 'validation_error', message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required.', code = 'unauthorized') {
    super(401, code, message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this.') {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} was not found.`);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}
export class PayloadTooLargeError extends AppError {
  constructor(limit: number) {
    super(413, 'payload_too_large', `The request body is larger than the limit of ${limit} bytes.`);
  }
}
export class RateLimitedError extends AppError {
  constructor(
    readonly retryAfterS: number,
    message = 'Too many attempts; try again later.',
  ) {
    super(429, 'rate_limited', message);
  }
}
export class ServiceUnavailableError extends AppError {
  constructor(
    dependency: string,
    message = `A dependency (${dependency}) is unavailable; try again shortly.`,
  ) {
    super(503, 'service_unavailable', message, { dependency });
  }
}

/** PostgreSQL SQLSTATE codes we translate. https://www.postgresql.org/docs/current/errcodes-appendix.html */
export const PgCode = {
  UNIQUE_VIOLATION: '23505',
  FOREIGN_KEY_VIOLATION: '23503',
  CHECK_VIOLATION: '23514',
  NOT_NULL_VIOLATION: '23502',
  INVALID_TEXT_REPRESENTATION: '22P02',
  STRING_DATA_RIGHT_TRUNCATION: '22001',
  DATETIME_FIELD_OVERFLOW: '22008',
  INVALID_DATETIME_FORMAT: '22007',
  NUMERIC_VALUE_OUT_OF_RANGE: '22003',
  /** e.g. a NUL character (\u0000), which PostgreSQL text cannot hold. */
  CHARACTER_NOT_IN_REPERTOIRE: '22021',
  UNTRANSLATABLE_CHARACTER: '22P05',
  ADMIN_SHUTDOWN: '57P01',
  CANNOT_CONNECT_NOW: '57P03',
} as const;

/** Errors that mean "the database is not reachable right now" rather than "your query is wrong". */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'CONNECTION_CONNECT_TIMEOUT',
  PgCode.ADMIN_SHUTDOWN,
  PgCode.CANNOT_CONNECT_NOW,
  '57P02', // crash_shutdown
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  const errno = (err as { errno?: unknown }).errno;
  return (
    (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) ||
    (typeof errno === 'string' && CONNECTION_ERROR_CODES.has(errno))
  );
}

/**
 * Translate a database error into the vocabulary, or return undefined when it is a bug
 * (which the caller logs and answers with 500). Constraint names are stable: they are
 * declared in the migrations.
 */
export function translateDbError(err: unknown): AppError | undefined {
  if (isConnectionError(err)) return new ServiceUnavailableError('database');
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: string; constraint_name?: string; constraint?: string };
  const constraint = e.constraint_name ?? e.constraint ?? '';
  switch (e.code) {
    case PgCode.UNIQUE_VIOLATION:
      if (constraint.includes('email'))
        return new ConflictError('That email is already registered.', 'email_taken');
      return new ConflictError('That value conflicts with an existing record.');
    case PgCode.FOREIGN_KEY_VIOLATION:
      if (constraint.includes('assignee'))
        return new ValidationError('assignee_id does not name an existing user.');
      // The caller's own account vanished between token check and write.
      if (constraint.includes('created_by'))
        return new UnauthorizedError('The account for this access token no longer exists.', 'invalid_token');
      return new ValidationError('A referenced record does not exist.');
    case PgCode.CHECK_VIOLATION:
    case PgCode.NOT_NULL_VIOLATION:
    case PgCode.STRING_DATA_RIGHT_TRUNCATION:
      return new ValidationError(`A value is out of range (${constraint || 'constraint'}).`);
    case PgCode.INVALID_TEXT_REPRESENTATION:
    case PgCode.INVALID_DATETIME_FORMAT:
    case PgCode.DATETIME_FIELD_OVERFLOW:
    case PgCode.NUMERIC_VALUE_OUT_OF_RANGE:
      return new ValidationError('A value has the wrong format or is out of range.');
    case PgCode.CHARACTER_NOT_IN_REPERTOIRE:
    case PgCode.UNTRANSLATABLE_CHARACTER:
      return new ValidationError('A text value contains a character that cannot be stored (e.g. NUL).');
    default:
      return undefined;
  }
}
