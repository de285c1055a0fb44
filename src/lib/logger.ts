import { writeSync } from 'node:fs';
import type { LogLevel } from '../config';

/**
 * Structured JSON logs, one object a line on stdout, so any log shipper can parse them.
 * Small on purpose: a level filter, bound fields (`child`) and safe serialisation of errors.
 */
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  isLevelEnabled(level: LogLevel): boolean;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  return value;
}

/**
 * JSON.stringify that cannot throw: a log call must never turn into an error of its own
 * (inside onError that would be a 500). Cycles become "[circular]", BigInts strings.
 */
function stringify(record: Record<string, unknown>): string {
  try {
    return JSON.stringify(record);
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(record, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString();
      if (value instanceof Error) return serialise(value);
      if (value && typeof value === 'object') {
        if (seen.has(value)) return '[circular]';
        seen.add(value);
      }
      return value;
    });
  }
}

/** Lines held at most before a write, whatever the event loop is doing. */
const MAX_BUFFERED_LINES = 512;
let buffered: string[] = [];
let flushScheduled = false;

function flushStdout(): void {
  flushScheduled = false;
  if (buffered.length === 0) return;
  const text = `${buffered.join('\n')}\n`;
  buffered = [];
  process.stdout.write(text);
}

/**
 * The default sink: lines go to stdout together, once per event-loop turn, instead of one
 * write each. A connect storm logs a line per upgrade, and 10,000 separate writes to a pipe
 * were a tenth of the server's CPU in the storm's profile (bench/RESULTS.md). What is still
 * held at exit is written synchronously, so the last lines before `process.exit` (a fatal
 * error, "stopped") are never lost.
 */
function writeStdoutLine(line: string): void {
  buffered.push(line);
  if (buffered.length >= MAX_BUFFERED_LINES) flushStdout();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushStdout);
  }
}

process.on('exit', () => {
  if (buffered.length === 0) return;
  const text = `${buffered.join('\n')}\n`;
  buffered = [];
  writeSync(1, text);
});

export function createLogger(
  level: LogLevel,
  bound: Record<string, unknown> = {},
  write: (line: string) => void = writeStdoutLine,
): Logger {
  const threshold = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < threshold) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...bound };
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = serialise(v);
    write(stringify(record));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(level, { ...bound, ...fields }, write),
    isLevelEnabled: (lvl) => ORDER[lvl] >= threshold,
  };
}

/** For tests and tools that want no output. */
export const silentLogger: Logger = createLogger('error', {}, () => {});
