/**
 * Comparison servers for bench/dashboard.ts, each run as its own process like HIVE:
 *   bun bench/dashboard-servers.ts bare <port>            — Bun.serve answering $BODY (the baseline)
 *   bun bench/dashboard-servers.ts naive <port> <db url>  — the summary by GROUP BY over tasks on every request
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
               (select count(*) from users where is_online) as online`;
      return Response.json({ ...row, generated_at: new Date().toISOString() });
    },
  });
} else {
  throw new Error(`unknown server kind ${kind}`);
}
console.log(JSON.stringify({ msg: 'listening', port }));
