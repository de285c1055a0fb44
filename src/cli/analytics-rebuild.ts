/**
 * `npm run analytics:rebuild`: recompute the dashboard aggregates from tasks and users
 * (analytics_rebuild(), the "REFRESH" of the incremental view), then check them against
 * GROUP BY over the base tables (analytics_check()). Exits 1 if any difference remains.
 * `--check` only checks. Uses DATABASE_URL, or the embedded database under HIVE_DATA_DIR
 * (stop the server first: the embedded database takes one process).
 */
import { loadConfig } from '../config';
import { openDatabase } from '../db/bootstrap';
import { createLogger } from '../lib/logger';

const checkOnly = process.argv.includes('--check');
const config = loadConfig();
const log = createLogger(config.logLevel, { component: 'analytics' });
const db = await openDatabase(config, log);
let failed = false;
try {
  // Not a server session (SERVER_SESSION_PREFIX): the rebuild announces itself with NOTIFY.
  const sql = db.connect('analytics-rebuild', 1);
  try {
    if (!checkOnly) {
      const started = performance.now();
      const [r] = await sql<
        { task_keys: string; days: string; active_users: string; online_users: string }[]
      >`
        select * from analytics_rebuild()`;
      log.info('aggregates rebuilt', {
        task_count_rows: Number(r!.task_keys),
        day_rows: Number(r!.days),
        active_users: Number(r!.active_users),
        online_users: Number(r!.online_users),
        duration_ms: Math.round(performance.now() - started),
      });
    }
    const diffs = await sql<{ aggregate: string; key: string; kept: string; actual: string }[]>`
      select * from analytics_check()`;
    if (diffs.length === 0) {
      log.info('aggregates match GROUP BY over tasks and users');
    } else {
      failed = true;
      log.error('aggregates differ from GROUP BY', { differences: diffs.length, first: diffs.slice(0, 20) });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
} finally {
  await db.stop();
}
process.exit(failed ? 1 : 0);
