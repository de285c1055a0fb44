import { FormatRegistry } from '@sinclair/typebox';
import { UUID_RE } from './schemas';

/**
 * Fast checkers for the string formats our schemas use.
 *
 * Why: importing @elysiajs/openapi (1.4.16) replaces TypeBox's global checkers for `uuid`,
 * `email`, `date` and others with ones that build a new Zod schema on every call. A page of
 * 50 tasks has ~150 uuid checks in its response validation, and that alone made
 * `GET /api/v1/tasks` cost ~3 ms of CPU per request (a CPU profile showed Zod's `init` at the
 * top). These are plain precompiled regexes plus a calendar check; `startServer` installs
 * them, process-wide, before the app (and so the plugin) is built.
 */
// The HTML/ajv-formats "email" grammar: what browsers accept in <input type=email>.
const EMAIL =
  /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const STRICT_INTEGER = /^-?\d{1,15}$/;
const STRICT_NUMBER = /^-?\d{1,15}(?:\.\d{1,15})?$/;

/** A real calendar date: 2030-02-31 is not one. */
export function isCalendarDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth;
}

export function installFastFormats(): void {
  FormatRegistry.Set('uuid', (value) => UUID_RE.test(value));
  FormatRegistry.Set('email', (value) => value.length <= 254 && EMAIL.test(value));
  FormatRegistry.Set('date', isCalendarDate);
  // Elysia reads query and path numbers (t.Integer, t.Numeric) through these formats, whose
  // defaults accept whatever JavaScript's Number() does: `limit=0x10` was 16, `1e2` 100,
  // ` 7` 7. A number in a URL is plain decimal digits.
  FormatRegistry.Set('integer', (value) => STRICT_INTEGER.test(value));
  FormatRegistry.Set('numeric', (value) => STRICT_NUMBER.test(value));
}
