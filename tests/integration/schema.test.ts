import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DATABASE_URL } from '../helpers/env';

/**
 * `npm run schema:check`: the committed sql/schema.sql must be what the migrations produce.
 * It dumps a scratch database with pg_dump, so it runs against the real server only.
 */
setDefaultTimeout(60_000);
const ROOT = new URL('../../', import.meta.url).pathname;
const hasPgDump = Bun.which('pg_dump') !== null;
const temps: string[] = [];
afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function schemaCheck(cwd: string) {
  const proc = Bun.spawn([process.execPath, 'src/cli/schema-dump.ts', '--check'], {
    cwd,
    env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, output: out + err };
}

describe.skipIf(!TEST_DATABASE_URL || !hasPgDump)('schema dump', () => {
  test('the committed sql/schema.sql matches the migrations', async () => {
    const { code, output } = await schemaCheck(ROOT);
    expect(output).toContain('matches the migrations');
    expect(code).toBe(0);
  });

  test('the check fails, saying what to run, when the file drifts from the migrations', async () => {
    // A copy of the project whose schema.sql lacks a migration's effect.
    const dir = await mkdtemp(join(tmpdir(), 'hive-schema-'));
    temps.push(dir);
    for (const p of ['scripts', 'src', 'migrations', 'sql', 'package.json']) {
      await cp(join(ROOT, p), join(dir, p), { recursive: true });
    }
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    await writeFile(
      join(dir, 'migrations', '0999_drift.sql'),
      '-- Up Migration\ncreate table drift_probe (id int primary key);\n',
    );
    const { code, output } = await schemaCheck(dir);
    expect(code).toBe(1);
    expect(output).toContain('npm run schema:dump');
  });
});
