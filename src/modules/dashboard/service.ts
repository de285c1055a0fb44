import type Redis from 'ioredis';
import type { Queryable, Sql } from '../../db/client';
import type { Logger } from '../../lib/logger';
import { recordSummaryCache } from '../../lib/metrics';
import {
  type DashboardSummary as Summary,
  TASK_PRIORITIES,
  TASK_STATUSES,
  type TrendPoint,
} from '../../protocol/schemas';
import { taskFilterSql } from '../tasks/filters';
import type { TaskFilters } from '../tasks/model';
import type { TaskCounter } from '../tasks/service';
import type { SummaryFilters } from './model';

/** The channel the analytics triggers notify on for writes made outside the server (psql, imports). */
export const ANALYTICS_CHANNEL = 'hive_analytics';

/**
 * X-Total-Count for GET /tasks from the cube: exact (the triggers run in the writers'
 * transactions) and O(cube rows) instead of O(tasks). The cube has no assignee, so a
 * filter on it falls back to counting rows.
 */
export const countTasksFromCube: TaskCounter = async (sql, f: TaskFilters) => {
  if (f.assignee_id) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from tasks
       where true ${taskFilterSql(sql, f)}`;
    return row?.n ?? 0;
  }
  const [row] = await sql<{ n: number }[]>`
    select coalesce(sum(n), 0)::float8 as n from task_counts where true ${taskFilterSql(sql, f)}`;
  return row?.n ?? 0;
};

/** The committed change counter: grows with every committed change to the aggregates. */
export async function readVersion(sql: Queryable): Promise<string> {
  const [row] = await sql<{ v: string }[]>`select coalesce(sum(v), 0)::text as v from analytics_version`;
  return row!.v;
}

/**
 * Which database, and which life of it, a version belongs to: the version counter starts
 * again at zero in every new database and goes back after a restore, so a version alone
 * cannot key a cache shared through Redis by several deployments. Three parts:
 * - the database's oid: two databases on one server differ;
 * - the server's start time (µs): another server, a replica promoted after a failover, a
 *   physical restore or point-in-time recovery all run a new postmaster;
 * - the newest transaction id among the version rows: a logical restore (pg_restore, with
 *   or without --clean, into this same database) rewrites every version row in a
 *   transaction newer than any before it on this server, so no key from before comes back.
 * Read in the same statement as the version it qualifies.
 */
function versionOrigin(sql: Queryable) {
  return sql`
    (select oid from pg_database where datname = current_database())::text
    || '.' || (extract(epoch from pg_postmaster_start_time()) * 1000000)::bigint::text
    || '.' || (select coalesce(max(xmin::text::bigint), 0) from analytics_version)::text`;
}

/** The version and its origin, in one snapshot: together they name a state of one database. */
async function readVersionAndOrigin(sql: Queryable): Promise<{ version: string; origin: string }> {
  const [row] = await sql<{ version: string; origin: string }[]>`
    select (select coalesce(sum(v), 0)::text from analytics_version) as version,
           ${versionOrigin(sql)} as origin`;
  return row!;
}

interface SummaryRow {
  version: string;
  active: number;
  online: number;
  by_status: Record<string, number>;
  by_priority: Record<string, number>;
  by_category: Record<string, number>;
}

/** The summary from the aggregates (see `computeSummaryWithOrigin`). */
export async function computeSummary(sql: Queryable, f: SummaryFilters): Promise<Summary> {
  return (await computeSummaryWithOrigin(sql, f)).summary;
}

/**
 * The summary from the aggregates: one statement, so the counts, the user counts, the
 * version and its origin all come from one snapshot (they name exactly the state shown).
 */
async function computeSummaryWithOrigin(
  sql: Queryable,
  f: SummaryFilters,
): Promise<{ summary: Summary; origin: string }> {
  const [row] = await sql<(SummaryRow & { origin: string })[]>`
    with c as (
      select status, priority, category, sum(n)::bigint as n
        from task_counts where true ${taskFilterSql(sql, f)}
       group by 1, 2, 3 having sum(n) <> 0
    )
    select (select coalesce(sum(v), 0)::text from analytics_version) as version,
           ${versionOrigin(sql)} as origin,
           u.active::float8 as active, u.online::float8 as online,
           (select coalesce(json_object_agg(status, n), '{}') from (select status, sum(n) as n from c group by 1) s) as by_status,
           (select coalesce(json_object_agg(priority, n), '{}') from (select priority, sum(n) as n from c group by 1) p) as by_priority,
           (select coalesce(json_object_agg(category, n order by category), '{}')
              from (select category, sum(n) as n from c group by 1) g) as by_category
      from user_counts u where u.id`;
  const r = row!;
  const byStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, Number(r.by_status[s] ?? 0)]));
  const byPriority = Object.fromEntries(TASK_PRIORITIES.map((p) => [p, Number(r.by_priority[p] ?? 0)]));
  const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const completed = byStatus.completed ?? 0;
  const summary: Summary = {
    total_tasks: total,
    completed_tasks: completed,
    completion_rate: total === 0 ? 0 : Math.round((completed / total) * 10_000) / 10_000,
    active_users: r.active,
    online_users: r.online,
    tasks_by_status: byStatus as Summary['tasks_by_status'],
    tasks_by_priority: byPriority as Summary['tasks_by_priority'],
    tasks_by_category: Object.fromEntries(Object.entries(r.by_category).map(([k, v]) => [k, Number(v)])),
    generated_at: new Date().toISOString(),
    version: r.version,
  };
  return { summary, origin: r.origin };
}

/** One entry per UTC day ending today, oldest first, zeros included. */
export async function computeTrends(sql: Queryable, days: number): Promise<TrendPoint[]> {
  return sql<TrendPoint[]>`
    with span as (
      select d::date as day
        from generate_series((now() at time zone 'UTC')::date - ${days - 1}::int,
                             (now() at time zone 'UTC')::date, interval '1 day') d
    )
    select to_char(span.day, 'YYYY-MM-DD') as date,
           coalesce(sum(t.created), 0)::float8 as created,
           coalesce(sum(t.completed), 0)::float8 as completed
      from span left join task_daily t on t.day = span.day
     group by span.day order by span.day`;
}

/** A summary ready to send: serialised once, with its ETag. */
export interface SummaryEntry {
  summary: Summary;
  /** Which database state the summary's version belongs to (`versionOrigin`). */
  origin: string;
  body: string;
  etag: string;
  /** Response headers, built once per entry. */
  headers: Record<string, string>;
}

function filterKey(f: SummaryFilters): string {
  if (!f.status && !f.priority && !f.category) return '';
  return JSON.stringify([f.status ?? null, f.priority ?? null, f.category ?? null]);
}

function toEntry(summary: Summary, origin: string, key: string): SummaryEntry {
  const tag = key === '' ? `v${summary.version}` : `v${summary.version}-${Bun.hash(key).toString(36)}`;
  const etag = `W/"${tag}"`;
  return {
    summary,
    origin,
    body: JSON.stringify(summary),
    etag,
    // no-cache: clients may keep it but must revalidate, counts change at any time.
    headers: { etag, 'cache-control': 'no-cache', 'content-type': 'application/json; charset=utf-8' },
  };
}

/** Weak comparison (RFC 9110 §13.1.2): `*`, or any listed tag equal once `W/` is ignored. */
export function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch
    .split(',')
    .map((s) => s.trim())
    .some((s) => s === '*' || s.replace(/^W\//, '') === bare);
}

/** Filtered summaries kept at once; beyond this the oldest is dropped (filters are free text). */
const MAX_FILTERED_ENTRIES = 256;
/** How long a summary stays in Redis: only the current version is ever asked for, so briefly. */
const REDIS_TTL_S = 60;

/**
 * The summary cache. In memory per filter, for the current generation; `invalidate()`
 * starts a new generation, after which nothing older is served: a load started before it
 * answers only the requests that were already waiting, and is not kept. On a miss one load
 * runs per filter (single-flight), so a burst after a change costs one database read.
 * The unfiltered summary is also shared through Redis keyed by version and its origin: an
 * instance first reads both (a 16-row scan) and takes the summary another instance already
 * computed for them. The version names a committed state exactly (see migration 0003) and
 * the origin the database and its life (`versionOrigin`), so a summary found under them is
 * neither older nor newer than this database, and never another database's.
 * Redis is a shortcut, never a dependency: a command that fails or passes its deadline
 * (REDIS_COMMAND_TIMEOUT_MS) means reading the database.
 */
export function createSummaryCache(deps: {
  sql: Sql;
  redis: Redis | undefined;
  redisPrefix: string;
  log: Logger;
}) {
  const { sql, redis, log } = deps;
  const redisKey = (origin: string, version: string) =>
    `${deps.redisPrefix}dashboard:summary:${origin}:${version}`;
  let generation = 0;
  /** Highest version seen in a summary or a poll: a poll that finds more means a change. */
  let knownVersion = -1n;
  const entries = new Map<string, { gen: number; entry: SummaryEntry }>();
  const inflight = new Map<string, { gen: number; promise: Promise<SummaryEntry> }>();

  /**
   * A version read from the database. Newer than any seen before means a change we were not
   * told about (a missed event, a write by some other path): everything cached is older, so
   * a new generation starts. Returns whether it did.
   */
  function observe(v: string): boolean {
    const n = BigInt(v);
    if (n <= knownVersion) return false;
    const first = knownVersion < 0n;
    knownVersion = n;
    if (!first) generation += 1;
    return !first;
  }

  async function fromRedis(origin: string, version: string): Promise<Summary | undefined> {
    if (!redis) return undefined;
    try {
      const raw = await redis.get(redisKey(origin, version));
      return raw ? (JSON.parse(raw) as Summary) : undefined;
    } catch (err) {
      log.debug('dashboard summary: redis unavailable, reading the database', { err });
      return undefined;
    }
  }

  /** `bumped`: this load found a newer version and started the new generation itself. */
  async function load(
    key: string,
    filters: SummaryFilters,
  ): Promise<{ entry: SummaryEntry; bumped: boolean }> {
    const started = performance.now();
    if (key === '' && redis) {
      const { version, origin } = await readVersionAndOrigin(sql);
      const bumped = observe(version);
      const current = entries.get('');
      if (current?.entry.summary.version === version && current.entry.origin === origin) {
        // The invalidation was for a change that did not move the counts (a title edit).
        log.debug('dashboard summary revalidated', { version, duration_ms: ms(started) });
        return { entry: current.entry, bumped };
      }
      const shared = await fromRedis(origin, version);
      if (shared) {
        log.debug('dashboard summary from redis', { version, duration_ms: ms(started) });
        return { entry: toEntry(shared, origin, key), bumped };
      }
    }
    const { summary, origin } = await computeSummaryWithOrigin(sql, filters);
    const bumped = observe(summary.version);
    log.debug('dashboard summary computed', {
      version: summary.version,
      filtered: key !== '',
      duration_ms: ms(started),
    });
    if (key === '' && redis) {
      redis
        .set(redisKey(origin, summary.version), JSON.stringify(summary), 'EX', REDIS_TTL_S)
        .catch((err) => {
          log.debug('dashboard summary: could not share through redis', { err });
        });
    }
    return { entry: toEntry(summary, origin, key), bumped };
  }

  /** The cached entry for these filters if it is current, without waiting. */
  function peek(filters: SummaryFilters): SummaryEntry | undefined {
    const hit = entries.get(filterKey(filters));
    if (hit && hit.gen === generation) {
      recordSummaryCache(true);
      if (log.isLevelEnabled('debug'))
        log.debug('dashboard summary cache hit', { version: hit.entry.summary.version });
      return hit.entry;
    }
    return undefined;
  }

  return {
    peek,

    async get(filters: SummaryFilters): Promise<SummaryEntry> {
      const cached = peek(filters);
      if (cached) return cached;
      const key = filterKey(filters);
      const gen = generation;
      const pending = inflight.get(key);
      if (pending && pending.gen === gen) return pending.promise;
      recordSummaryCache(false);
      if (log.isLevelEnabled('debug')) log.debug('dashboard summary cache miss', { filtered: key !== '' });
      const promise = load(key, filters).then(
        ({ entry, bumped }) => {
          if (inflight.get(key)?.promise === promise) inflight.delete(key);
          // Kept only if no invalidation arrived meanwhile (other than the one this load made).
          const keptGen = gen + (bumped ? 1 : 0);
          if (generation === keptGen) {
            entries.delete(key); // re-insert: Map order is the eviction order
            entries.set(key, { gen: keptGen, entry });
            if (entries.size > MAX_FILTERED_ENTRIES + 1) {
              const oldest = entries.keys().next().value;
              if (oldest !== undefined) entries.delete(oldest);
            }
          }
          return entry;
        },
        (err) => {
          if (inflight.get(key)?.promise === promise) inflight.delete(key);
          throw err;
        },
      );
      inflight.set(key, { gen, promise });
      return promise;
    },

    /** Something changed (or may have): nothing cached before now is served again. */
    invalidate(): void {
      generation += 1;
    },

    /** A poll read this version: true (and invalidated) when it is newer than any seen. */
    observeVersion: observe,
  };
}

export type SummaryCache = ReturnType<typeof createSummaryCache>;

const ms = (since: number) => Math.round((performance.now() - since) * 100) / 100;
