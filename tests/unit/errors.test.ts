import { describe, expect, test } from 'bun:test';
import {
  AppError,
  ConflictError,
  isConnectionError,
  PgCode,
  ServiceUnavailableError,
  translateDbError,
  UnauthorizedError,
  ValidationError,
} from '../../src/lib/errors';

const pgError = (code: string, constraint_name?: string) =>
  Object.assign(new Error('pg'), { name: 'PostgresError', code, constraint_name });

describe('translateDbError', () => {
  test('a taken email is 409 email_taken', () => {
    const e = translateDbError(pgError(PgCode.UNIQUE_VIOLATION, 'users_email_key'));
    expect(e).toBeInstanceOf(ConflictError);
    expect(e).toMatchObject({ status: 409, code: 'email_taken' });
  });

  test('a missing assignee is 422; a vanished creator is 401', () => {
    expect(translateDbError(pgError(PgCode.FOREIGN_KEY_VIOLATION, 'tasks_assignee_fkey'))).toBeInstanceOf(
      ValidationError,
    );
    expect(translateDbError(pgError(PgCode.FOREIGN_KEY_VIOLATION, 'tasks_created_by_fkey'))).toBeInstanceOf(
      UnauthorizedError,
    );
  });

  test.each([
    PgCode.CHECK_VIOLATION,
    PgCode.NOT_NULL_VIOLATION,
    PgCode.STRING_DATA_RIGHT_TRUNCATION,
    PgCode.INVALID_TEXT_REPRESENTATION,
    PgCode.INVALID_DATETIME_FORMAT,
    PgCode.CHARACTER_NOT_IN_REPERTOIRE,
  ])('SQLSTATE %s (bad data) is 422', (code) => {
    expect(translateDbError(pgError(code))).toMatchObject({ status: 422, code: 'validation_error' });
  });

  test.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'CONNECTION_CLOSED',
    'CONNECT_TIMEOUT',
    PgCode.ADMIN_SHUTDOWN,
    '08006',
  ])('%s (the database is unreachable) is 503 service_unavailable', (code) => {
    const e = translateDbError(pgError(code));
    expect(e).toBeInstanceOf(ServiceUnavailableError);
    expect(e).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(isConnectionError(pgError(code))).toBe(true);
  });

  test('a programming error (syntax, unknown column) is not translated: it is a bug, logged as 500', () => {
    expect(translateDbError(pgError('42601'))).toBeUndefined();
    expect(translateDbError(pgError('42703'))).toBeUndefined();
    expect(translateDbError(new TypeError('x'))).toBeUndefined();
    expect(translateDbError(undefined)).toBeUndefined();
  });

  test('every AppError carries a snake_case code and a sentence', () => {
    const e = new AppError(418, 'teapot_here', 'I am a teapot.');
    expect(e.code).toMatch(/^[a-z_]+$/);
    expect(e.message).toMatch(/\.$/);
  });
});
