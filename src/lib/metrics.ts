import { readdir } from 'node:fs/promises';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus metrics, served by `GET /metrics` (src/http/metrics.ts).
 *
 * One registry per process, created at import like a logger: the counting places (the HTTP
 * plugin, presence writer, summary cache, session check) then record with a one-line call
 * instead of having a metrics object threaded through every constructor. Creating these
 * objects does no I/O; values that belong to a running instance (open sockets, the pool,
 * Redis) are read at scrape time from the sources `src/http/metrics.ts` registers. Several
 * servers in one process (tests) share the counters, as they share the process.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/**
 * Default metrics that stalled the event loop at each scrape under Bun, measured with
 * `bun bench/presence.ts --one` (bench/RESULTS.md, round twelve):
 * - `nodejs_heap_space_size_*`: Bun answers `v8.getHeapSpaceStatistics()` by walking the whole
 *   heap (~150 ms for 2 million objects here; scrapes of a 10,000-socket instance took 48–73 ms
 *   with it, 7–16 ms without), and prom-client calls it at every scrape. Dropped: `nodejs_heap_size_*_bytes` and
 *   `process_resident_memory_bytes` (from `process.memoryUsage()`, microseconds) still show memory.
 * - `process_open_fds`: prom-client counts `/proc/self/fd` with `readdirSync` (~20 ms at 10,000
 *   sockets). Kept, under the same name, counted off the event loop.
 */
for (const name of [
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
  'process_open_fds',
]) {
  registry.removeSingleMetric(name);
}
if (process.platform === 'linux') {
  new Gauge({
    name: 'process_open_fds',
    help: 'Number of open file descriptors.',
    registers: [registry],
    async collect() {
      // Less the one readdir itself holds open while it reads.
      const fds = await readdir('/proc/self/fd').catch(() => undefined);
      if (fds) this.set(fds.length - 1);
    },
  });
}

/** Latency buckets (seconds) for requests: most answers take 1-20 ms here; 5 s is a hung dependency. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const httpRequests = new Counter({
  name: 'hive_http_requests_total',
  help: 'HTTP requests answered, by method, route pattern (not the raw path) and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'hive_http_request_duration_seconds',
  help: 'Time from request to response, by method, route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: REQUEST_BUCKETS,
  registers: [registry],
});

const presenceTransitions = new Counter({
  name: 'hive_presence_transitions_total',
  help: 'Presence transitions written to the database and announced, by direction',
  labelNames: ['to'] as const,
  registers: [registry],
});

const presenceWriteDuration = new Histogram({
  name: 'hive_presence_write_duration_seconds',
  help: 'Duration of one batched presence write (UPDATE … FROM unnest) to the database',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  registers: [registry],
});

const summaryCache = new Counter({
  name: 'hive_summary_cache_requests_total',
  help: 'Dashboard summary requests served from this instance’s cache (hit) or loaded (miss)',
  labelNames: ['result'] as const,
  registers: [registry],
});

const sessionsRevoked = new Counter({
  name: 'hive_sessions_revoked_sockets_total',
  help: 'WebSockets closed with 4003 because their account was deleted, deactivated, demoted or its password changed',
  registers: [registry],
});

/** Hook for the presence writer: one batch written, its rows as announced. */
export function recordPresenceWrite(
  changes: readonly { user: { is_online: boolean } }[],
  durationS: number,
): void {
  presenceWriteDuration.observe(durationS);
  for (const { user } of changes) presenceTransitions.inc({ to: user.is_online ? 'online' : 'offline' });
}

/** Hook for the summary cache. */
export function recordSummaryCache(hit: boolean): void {
  summaryCache.inc({ result: hit ? 'hit' : 'miss' });
}

/** Hook for the session check. */
export function recordSessionRevoked(): void {
  sessionsRevoked.inc();
}
