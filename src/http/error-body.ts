import type { ErrorBody } from '../protocol/schemas';

/** The contract's error body: `{"error": {"code", "message", "details"?}}`. */
export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}
