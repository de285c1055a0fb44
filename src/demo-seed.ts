import type { Sql } from './db/client';
import type { Logger } from './lib/logger';
import { hashPassword } from './modules/auth/passwords';
import { TASK_PRIORITIES, TASK_STATUSES } from './protocol/schemas';

export const DEMO_PASSWORD = 'hive-demo-password';
export const DEMO_USERS = [
  { email: 'admin@hive.local', full_name: 'Ada Admin', role: 'admin' },
  { email: 'maya@hive.local', full_name: 'Maya Member', role: 'member' },
  { email: 'leo@hive.local', full_name: 'Leo Lopez', role: 'member' },
  { email: 'sam@hive.local', full_name: 'Sam Sato', role: 'member' },
  { email: 'ivy@hive.local', full_name: 'Ivy Ito', role: 'member' },
] as const;
const CATEGORIES = ['backend', 'frontend', 'design', 'ops', 'research'];
const TITLES = [
  'Review',
  'Fix',
  'Write',
  'Plan',
  'Ship',
  'Test',
  'Refactor',
  'Document',
  'Measure',
  'Design',
];
const OBJECTS = [
  'login flow',
  'dashboard cards',
  'API docs',
  'release notes',
  'on-call rota',
  'search',
  'billing page',
  'metrics',
  'onboarding',
  'alerts',
];

/** A small deterministic generator, so the demo board is the same on every machine. */
function mulberry32(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Demo data for a first look: a few users and a few hundred tasks over the last 30 days,
 * across every status, priority and several categories. Only into an empty database
 * (no users), so it never touches real data. Returns false when it did nothing.
 */
export async function seedDemoData(sql: Sql, log: Logger, taskCount = 300): Promise<boolean> {
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  return sql.begin(async (tx) => {
    // Serialise concurrent starters (several instances on one empty database).
    await tx`select pg_advisory_xact_lock(${0x48495646})`;
    const [existing] = await tx`select exists (select 1 from users) as any`;
    if (existing?.any) return false;
    const users: { id: string }[] = await tx`
      insert into users ${tx(DEMO_USERS.map((u) => ({ ...u, password_hash: passwordHash })))} returning id`;
    const rand = mulberry32(42);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const now = Date.now();
    const day = 86_400_000;
    const tasks = Array.from({ length: taskCount }, () => {
      const createdAt = new Date(now - Math.floor(rand() * 30 * day));
      const status = pick(TASK_STATUSES);
      const completedAt =
        status === 'completed'
          ? new Date(Math.min(now, createdAt.getTime() + Math.floor(rand() * 5 * day)))
          : null;
      return {
        title: `${pick(TITLES)} ${pick(OBJECTS)}`,
        description: null,
        status,
        priority: pick(TASK_PRIORITIES),
        category: pick(CATEGORIES),
        assignee_id: rand() < 0.8 ? pick(users).id : null,
        created_by: pick(users).id,
        due_date: rand() < 0.5 ? new Date(createdAt.getTime() + Math.floor(rand() * 20 * day)) : null,
        created_at: createdAt,
        updated_at: completedAt ?? createdAt,
        completed_at: completedAt,
      };
    });
    await tx`insert into tasks ${tx(tasks)}`;
    log.info('demo data loaded', {
      users: DEMO_USERS.length,
      tasks: taskCount,
      login: { email: DEMO_USERS[0].email, password: DEMO_PASSWORD },
    });
    return true;
  });
}
