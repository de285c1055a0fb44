/**
 * Comparison servers for bench/dashboard.ts, each run as its own process like HIVE:
 *   bun bench/dashboard-servers.ts bare <port>            — Bun.serve answering $BODY (the baseline)
 *   bun bench/dashboard-servers.ts naive <port> <db url>  — the summary by GROUP BY over tasks on every request
 *   bun bench/dashboard-servers.ts naive-workload <port> <db url> — the workload by GROUP BY over tasks per request
 */
import postgres from 'postgres';

const [kind, portArg, dbUrl] = process.argv.slice(2);
const port = Number(portArg);

if (kind === 'bare') {
  const text = process.env.BODY ?? '{"status":"ok"}';
  Bun.serve({
    port,
    hostname: '127.0.0.1',
    fetch: () => new Response(text, { headers: { 'content-type': 'application/json; charset=utf-8' } }),
  });
} else if (kind === 'naive') {
  // The same pool size as HIVE's.
  const sql = postgres(dbUrl!, { max: 10, onnotice: () => {} });
  Bun.serve({
    port,
    hostname: '127.0.0.1',
    async fetch() {
      const [row] = await sql`
        with c as (select status, priority, category, count(*) as n from tasks group by 1, 2, 3)
        select (select json_object_agg(status, n) from (select status, sum(n) as n from c group by 1) s) as by_status,
               (select json_object_agg(priority, n) from (select priority, sum(n) as n from c group by 1) p) as by_priority,
               (select json_object_agg(category, n) from (select category, sum(n) as n from c group by 1) g) as by_category,
               (select count(*) from users where is_active) as active,
               (select count(*) from users where is_online) as online,
               (select count(*) from tasks where status in ('todo', 'in_progress', 'review') and due_date < now()) as overdue,
               (select count(*) from tasks where status in ('todo', 'in_progress', 'review')
                   and due_date >= now() and due_date < now() + interval '7 days') as due_soon,
               (select json_build_array(count(*), percentile_cont(array[0.5, 0.9]) within group (order by completed_at - created_at))
                  from tasks where completed_at > now() - interval '30 days' and completed_at <= now()) as cycle_time`;
      return Response.json({ ...row, generated_at: new Date().toISOString() });
    },
  });
} else if (kind === 'naive-workload') {
  const sql = postgres(dbUrl!, { max: 10, onnotice: () => {} });
  Bun.serve({
    port,
    hostname: '127.0.0.1',
    async fetch() {
      const rows = await sql`
        with k as (
          select assignee_id as user_id,
                 count(*) filter (where status = 'todo') as todo,
                 count(*) filter (where status = 'in_progress') as in_progress,
                 count(*) filter (where status = 'review') as review,
                 count(*) filter (where status in ('todo', 'in_progress', 'review') and due_date < now()) as overdue,
                 count(*) filter (where completed_at > now() - interval '7 days' and completed_at <= now()) as done7
            from tasks group by 1
        )
        select k.*, u.full_name from k left join users u on u.id = k.user_id
         where todo + in_progress + review > 0 or done7 > 0
         order by todo + in_progress + review desc, u.full_name nulls last limit 50`;
      return Response.json(rows);
    },
  });
} else {
  throw new Error(`unknown server kind ${kind}`);
}
console.log(JSON.stringify({ msg: 'listening', port }));
