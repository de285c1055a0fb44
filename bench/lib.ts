/**
 * Shared benchmark helpers. Every figure is reported next to a baseline measured in the
 * same run on the same machine (this machine is shared and noisy: ratios hold, absolute
 * times do not).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface LoadResult {
  label: string;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** HTTP load with autocannon (in process): `connections` concurrent keep-alive connections. */
export async function load(opts: {
  label: string;
  url: string;
  connections?: number;
  durationS?: number;
  method?: 'GET' | 'POST' | 'PATCH';
  headers?: Record<string, string>;
  body?: string;
  /** Per-request bodies (e.g. distinct logins); overrides body. */
  requests?: autocannon.Request[];
}): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections ?? 100,
    duration: opts.durationS ?? 10,
    method: opts.method ?? 'GET',
    headers: opts.headers,
    body: opts.body,
    requests: opts.requests,
  });
  return {
    label: opts.label,
    requests: result.requests.total,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** The baseline: a bare Bun.serve answering a small JSON body. Same process as autocannon, like the server under test's own load. */
export function startBareJsonServer(body: unknown = { status: 'ok', total_tasks: 100 }) {
  const text = JSON.stringify(body);
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: () => new Response(text, { headers: { 'content-type': 'application/json' } }),
  });
  return { url: `http://127.0.0.1:${server.port}/`, stop: () => server.stop(true) };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarise(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A Markdown table for RESULTS.md. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Header for a results section: the command, the date and the machine. */
export function runHeader(command: string): string {
  const cpus = navigator.hardwareConcurrency;
  return `Command: \`${command}\` — ${new Date().toISOString()} — ${cpus} cores, Bun ${Bun.version}`;
}

/**
 * Put `body` between `<!-- marker -->` and `<!-- /marker -->` in bench/RESULTS.md; when the
 * markers are missing, add them just before `<!-- /${parent} -->`.
 */
export function writeResultsSection(marker: string, body: string, parent = 'section:analytics'): void {
  const path = new URL('./RESULTS.md', import.meta.url);
  const text = readFileSync(path, 'utf8');
  const open = `<!-- ${marker} -->`;
  const close = `<!-- /${marker} -->`;
  const next = text.includes(open)
    ? text.replace(new RegExp(`${open}[\\s\\S]*?${close}`), `${open}\n${body}\n${close}`)
    : text.replace(`<!-- /${parent} -->`, `${open}\n${body}\n${close}\n<!-- /${parent} -->`);
  writeFileSync(path, next);
}

/** The value after `--name` on the command line, or undefined. */
export function stringArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * A positive number after `--name` (underscores allowed: `1_000_000`), or `fallback` when the
 * flag is absent; anything else stops the benchmark with a message naming the flag.
 */
export function numberArg(name: string, fallback: number, opts: { integer?: boolean } = {}): number {
  const raw = stringArg(name);
  if (raw === undefined) return fallback;
  const value = Number(raw.replaceAll('_', ''));
  const ok = opts.integer ? Number.isInteger(value) && value > 0 : Number.isFinite(value) && value > 0;
  if (!ok) {
    console.error(`--${name} needs a positive ${opts.integer ? 'integer' : 'number'}`);
    process.exit(2);
  }
  return value;
}
