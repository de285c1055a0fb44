import { Elysia, t } from 'elysia';
import type { Sql } from '../../db/client';
import { docHeaders } from '../../http/openapi-vocabulary';
import { errors } from '../../lib/schemas';
import { DashboardSummary as Summary, TrendPoint, WorkloadEntry } from '../../protocol/schemas';
import { authPlugin } from '../auth/plugin';
import type { TokenService } from '../auth/tokens';
import type { WorkloadCache } from './insights';
import { SummaryQuery, TrendsQuery, WorkloadQuery } from './model';
import { computeTrends, etagMatches, type SummaryCache, type SummaryEntry } from './service';

/**
 * Public, aggregated, no personal data. The summary is answered from the cache with a body
 * serialised once per version, so a hit costs a map lookup; the response schema below
 * documents it (a pre-built Response is not re-validated).
 */
function respond(entry: SummaryEntry, request: Request): Response {
  if (etagMatches(request.headers.get('if-none-match'), entry.etag)) {
    return new Response(null, { status: 304, headers: { etag: entry.etag, 'cache-control': 'no-cache' } });
  }
  return new Response(entry.body, { headers: entry.headers });
}

export function dashboardRoutes(deps: {
  sql: Sql;
  cache: SummaryCache;
  workload: WorkloadCache;
  tokens: TokenService;
}) {
  const { sql, cache, workload } = deps;
  return new Elysia({ prefix: '/api/v1/dashboard', tags: ['dashboard'] })
    .use(authPlugin(deps.tokens))
    .get(
      '/summary',
      async ({ query, request }) => respond(cache.peek(query) ?? (await cache.get(query)), request),
      {
        query: SummaryQuery,
        response: {
          200: Summary,
          304: t.Void({ description: 'Not Modified: If-None-Match matched the ETag' }),
          ...errors(422, 503),
        },
        detail: {
          operationId: 'getDashboardSummary',
          summary: 'Task and user counts for the dashboard (filters restrict every task count)',
          description:
            'Exact counts from the trigger-maintained aggregates, reflecting every committed change within a second. Public: no personal data. Carries a weak ETag; send it back in If-None-Match to get 304 while nothing changed.',
          parameters: [
            {
              name: 'If-None-Match',
              in: 'header',
              required: false,
              description:
                'An ETag from an earlier answer: 304 without a body while the counts are unchanged.',
              schema: { type: 'string' },
            },
          ],
          responses: {
            200: { description: 'The counts.', headers: docHeaders.etag },
            304: {
              description: 'Not Modified: the counts are those of the If-None-Match tag.',
              headers: docHeaders.etag,
            },
          },
        },
      },
    )
    .get('/trends', ({ query }) => computeTrends(sql, query.days ?? 30), {
      query: TrendsQuery,
      response: { 200: t.Array(TrendPoint), ...errors(422, 503) },
      detail: {
        operationId: 'getDashboardTrends',
        summary: 'Tasks created and completed per UTC day',
        description:
          'One entry per UTC day ending today, oldest first, zeros included; `created` by created_at, `completed` by completed_at.',
        responses: { 200: { description: '`days` entries, oldest first.' } },
      },
    })
    .get(
      '/workload',
      async ({ query, set }) => {
        const { entries, generatedAt } = await workload.get(query);
        const offset = query.offset ?? 0;
        set.headers['x-total-count'] = String(entries.length);
        set.headers['x-generated-at'] = generatedAt; // the instant the figures are exact for
        return entries.slice(offset, offset + (query.limit ?? 50));
      },
      {
        auth: true,
        query: WorkloadQuery,
        response: { 200: t.Array(WorkloadEntry), ...errors(401, 422, 503) },
        detail: {
          summary: 'Who carries what: open work, overdue work and recent completions per assignee',
          description:
            'One entry per assignee with open tasks or a completion in the last 7 × 24 h, plus user_id null for unassigned work; ordered by open desc, then full_name. No emails. X-Total-Count holds the number of entries, X-Generated-At the instant they are exact for (recomputed at least every 30 s). Filters as on the summary. Exact as of the moment it was computed, recomputed after every change and whenever time moves a task into overdue.',
        },
      },
    );
}
