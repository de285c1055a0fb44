import { timingSafeEqual } from 'node:crypto';
import { Elysia, t } from 'elysia';
import { Counter, Gauge } from 'prom-client';
import type { Sql } from '../db/client';
import { rejectAfter } from '../lib/deadline';
import { ForbiddenError, UnauthorizedError } from '../lib/errors';
import { httpDuration, httpRequests, registry } from '../lib/metrics';
import type { ConnectionStatus, RedisRole } from '../lib/redis';
import { errors } from '../lib/schemas';
import type { WorkGate } from '../lib/work-gate';
import type { SocketHub } from '../realtime/hub';
import type { Feature, Runtime } from '../runtime';

/** What a running instance contributes to a scrape (several in one process: their sum). */
interface InstanceSource {
  hub: SocketHub;
  sql: Sql;
  redisConnections: ReadonlyMap<ConnectionStatus, RedisRole>;
  /** The argon2 gate (src/modules/auth/passwords.ts), passed in: src/http does not import features. */
  passwordGate: WorkGate;
  /** The account cache (src/modules/auth/accounts.ts), by the two readings a scrape takes. */
  accounts: { feed: { live(): boolean }; rowsRead(): number };
}
const sources = new Set<InstanceSource>();

/** A scrape must answer even while PostgreSQL is away: the pool probe gives up after this. */
const DB_PROBE_TIMEOUT_MS = 500;
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The sum over this process's instances of each field `read` gives. */
function summed<K extends string>(read: (s: InstanceSource) => Record<K, number>, keys: readonly K[]) {
  const total = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  for (const s of sources) {
    const values = read(s);
    for (const k of keys) total[k] += values[k];
  }
  return total;
}

/** Instance gauges, read when scraped. */
function registerInstanceGauges() {
  new Gauge({
    name: 'hive_websocket_connections',
    help: 'WebSockets open on this instance',
    registers: [registry],
    collect() {
      let open = 0;
      for (const s of sources) open += s.hub.size();
      this.set(open);
    },
  });
  new Gauge({
    name: 'hive_websocket_queued_writes',
    help: 'Frames waiting to be written to sockets in slices: queue="frames" (presence batches and subscription answers) or "broadcasts" (to every socket; a socket\'s are written together)',
    labelNames: ['queue'] as const,
    registers: [registry],
    collect() {
      const waiting = summed((s) => s.hub.writesWaiting(), ['frames', 'broadcasts']);
      this.set({ queue: 'frames' }, waiting.frames);
      this.set({ queue: 'broadcasts' }, waiting.broadcasts);
    },
  });
  new Gauge({
    name: 'hive_password_gate_jobs',
    help: 'argon2 hashes and verifies running and waiting in the password gate (src/lib/work-gate.ts)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const load = summed((s) => s.passwordGate.load(), ['running', 'waiting']);
      this.set({ state: 'running' }, load.running);
      this.set({ state: 'waiting' }, load.waiting);
    },
  });
  new Gauge({
    name: 'hive_redis_up',
    help: '1 while every Redis connection of that role (command, presence, subscriber) is ready, else 0 (absent without REDIS_URL)',
    labelNames: ['connection'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const up = new Map<string, boolean>();
      for (const s of sources)
        for (const [client, role] of s.redisConnections)
          up.set(role, (up.get(role) ?? true) && client.status === 'ready');
      for (const [role, ready] of up) this.set({ connection: role }, ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'hive_account_feed_live',
    help: 'Instances whose account cache is kept current by NOTIFY (migration 0021), so known accounts are checked without a read',
    registers: [registry],
    collect() {
      let live = 0;
      for (const s of sources) if (s.accounts.feed.live()) live += 1;
      this.set(live);
    },
  });
  let rowsReported = 0;
  new Counter({
    name: 'hive_account_rows_read_total',
    help: 'Account rows read from the database for token checks (cache misses and the socket sweep)',
    registers: [registry],
    collect() {
      let rows = 0;
      for (const s of sources) rows += s.accounts.rowsRead();
      // A counter only goes up: a server of this process that stopped takes its rows with it.
      if (rows > rowsReported) this.inc(rows - rowsReported);
      rowsReported = rows;
    },
  });
  registerDatabaseGauges();
}

/** This instance's sessions as PostgreSQL sees them (its application_name), by state. */
function poolConnections(sql: Sql): Promise<{ state: string; n: number }[]> {
  return rejectAfter(
    sql<{ state: string; n: number }[]>`
      select coalesce(state, 'unknown') as state, count(*)::int as n from pg_stat_activity
       where application_name = current_setting('application_name') group by 1`,
    DB_PROBE_TIMEOUT_MS,
    () => new Error('database probe timed out'),
  );
}

function registerDatabaseGauges() {
  new Gauge({
    name: 'hive_db_pool_max',
    help: 'Connections the database pool may open',
    registers: [registry],
    collect() {
      let max = 0;
      for (const s of sources) max += Number(s.sql.options.max) || 0;
      this.set(max);
    },
  });
  const connections = new Gauge({
    name: 'hive_db_pool_connections',
    help: 'Pool connections open on the server, by pg_stat_activity state (active, idle, …)',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'hive_db_up',
    help: '1 when the database answered the scrape’s probe within 500 ms, else 0',
    registers: [registry],
    async collect() {
      connections.reset();
      let up = sources.size > 0 ? 1 : 0;
      for (const s of sources) {
        try {
          for (const row of await poolConnections(s.sql)) connections.inc({ state: row.state }, row.n);
        } catch {
          up = 0;
        }
      }
      this.set(up);
    },
  });
}
registerInstanceGauges();

/** Request timings by request, set in onRequest and read when the response is sent. */
const startedAt = new WeakMap<Request, number>();

/**
 * The counter and histogram children of one label set, looked up by one string key: cheaper
 * per request than prom-client hashing a label object twice. Bounded, since routes, methods
 * and statuses are few.
 */
const children = new Map<string, { count(): void; observe(seconds: number): void }>();
function requestMetrics(method: string, route: string, status: string) {
  const key = `${method} ${route} ${status}`;
  let child = children.get(key);
  if (!child) {
    const counter = httpRequests.labels(method, route, status);
    const histogram = httpDuration.labels(method, route, status);
    child = { count: () => counter.inc(), observe: (s) => histogram.observe(s) };
    children.set(key, child);
  }
  return child;
}

/**
 * Counts every answered request by method, route pattern (`/api/v1/tasks/:id`, never the raw
 * path, so ids do not explode the label set) and status, with its latency. Requests answered
 * before routing (unknown paths, 405, 415) have the route label `none`; CORS preflights and
 * the body limit's early 413 are answered before this plugin's hooks and are not counted.
 */
export function metricsPlugin() {
  return new Elysia({ name: 'hive.metrics' })
    .onRequest(({ request }) => void startedAt.set(request, performance.now()))
    .onAfterResponse({ as: 'global' }, (ctx) => {
      const start = startedAt.get(ctx.request);
      if (start === undefined) return;
      const route = (ctx as { route?: string }).route || 'none';
      const method = KNOWN_METHODS.has(ctx.request.method) ? ctx.request.method : 'OTHER';
      const status = typeof ctx.set.status === 'number' ? ctx.set.status : 200;
      const child = requestMetrics(method, route, String(status));
      child.count();
      child.observe((performance.now() - start) / 1000);
    });
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * `GET /metrics`, Prometheus text format. Who may read it: with METRICS_TOKEN set, whoever
 * sends `Authorization: Bearer <METRICS_TOKEN>`; without it, loopback clients only (a
 * sidecar or node agent), so a default install does not show its internals to the network.
 */
export function createMetricsFeature(
  rt: Pick<Runtime, 'config' | 'hub' | 'sql' | 'redisConnections' | 'tokens'>,
  passwordGate: WorkGate,
) {
  const source: InstanceSource = {
    hub: rt.hub,
    sql: rt.sql,
    redisConnections: rt.redisConnections,
    passwordGate,
    accounts: rt.tokens.accounts,
  };
  const token = rt.config.metricsToken;
  const routes = new Elysia({ name: 'hive.metrics-route', tags: ['operations'] }).get(
    '/metrics',
    async ({ request, server, set }) => {
      if (token) {
        const given = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
        if (!given || !sameSecret(given, token)) {
          set.headers['www-authenticate'] = 'Bearer realm="metrics"';
          throw new UnauthorizedError('Send "Authorization: Bearer <METRICS_TOKEN>" to read metrics.');
        }
      } else if (!isLoopback(server?.requestIP(request)?.address)) {
        throw new ForbiddenError(
          'Metrics are served to loopback clients only; set METRICS_TOKEN to read them remotely.',
        );
      }
      const text = await registry.metrics();
      return new Response(text, { headers: { 'content-type': registry.contentType } });
    },
    {
      response: { 200: t.String({ description: 'Prometheus text format 0.0.4' }), ...errors(401, 403) },
      detail: {
        summary: 'Prometheus metrics (loopback only, or bearer METRICS_TOKEN)',
        description:
          'Request counts and latencies by route pattern, open WebSockets, presence writes, summary cache hits and misses, the database pool and the Redis connections, in the Prometheus text format. Served to loopback clients only unless `METRICS_TOKEN` is set; then to `Authorization: Bearer <METRICS_TOKEN>`.',
        security: [{ bearerAuth: [] }],
      },
    },
  );
  return {
    name: 'metrics',
    routes,
    start: () => void sources.add(source),
    stop: () => void sources.delete(source),
  } satisfies Feature;
}
