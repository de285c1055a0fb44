/**
 * `npm test`: the whole suite, twice —
 *   1. on the embedded database (PGlite), in single-instance mode;
 *   2. on real PostgreSQL and Redis (TEST_DATABASE_URL / TEST_REDIS_URL, defaulting to the
 *      local servers), where the multi-instance, crash and LISTEN/NOTIFY tests also run.
 * The second run is skipped with a notice when no real servers are reachable, except under
 * CI=true, where that is a failure. Extra arguments go to `bun test` (e.g. a file filter).
 * Ends with one line "tests: N passed, N failed" over both runs.
 */
import { connect } from 'node:net';

const args = process.argv.slice(2);
const onlyMode = process.env.TEST_MODE; // 'embedded' | 'real' | undefined (both)

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname, port: Number(u.port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function run(label: string, env: Record<string, string | undefined>) {
  console.log(`\n=== ${label} ===\n`);
  const proc = Bun.spawn([process.execPath, 'test', '--timeout', '60000', ...args], {
    env: { ...process.env, ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let output = '';
  const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      output += text;
      sink.write(text);
    }
  };
  await Promise.all([pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)]);
  const code = await proc.exited;
  const pass = Number(/^\s*(\d+) pass\s*$/m.exec(output)?.[1] ?? 0);
  const fail = Number(/^\s*(\d+) fail\s*$/m.exec(output)?.[1] ?? 0);
  const skip = Number(/^\s*(\d+) skip\s*$/m.exec(output)?.[1] ?? 0);
  return { code, pass, fail, skip };
}

const results: { label: string; code: number; pass: number; fail: number; skip: number }[] = [];

if (onlyMode !== 'real') {
  results.push({
    label: 'embedded',
    ...(await run('embedded PostgreSQL (PGlite), single instance', {
      TEST_DATABASE_URL: '',
      TEST_REDIS_URL: '',
    })),
  });
}

if (onlyMode !== 'embedded') {
  const dbUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
  const [dbUp, redisUp] = await Promise.all([reachable(dbUrl, 5432), reachable(redisUrl, 6379)]);
  if (dbUp && redisUp) {
    results.push({
      label: 'real',
      ...(await run(`real PostgreSQL (${new URL(dbUrl).host}) and Redis (${new URL(redisUrl).host})`, {
        TEST_DATABASE_URL: dbUrl,
        TEST_REDIS_URL: redisUrl,
      })),
    });
  } else {
    const missing = [
      !dbUp && `PostgreSQL at ${new URL(dbUrl).host}`,
      !redisUp && `Redis at ${new URL(redisUrl).host}`,
    ]
      .filter(Boolean)
      .join(' and ');
    if (process.env.CI === 'true') {
      console.error(`\nCI: ${missing} unreachable; the real-services run is required in CI.`);
      results.push({ label: 'real', code: 1, pass: 0, fail: 1, skip: 0 });
    } else {
      console.log(
        `\nSkipping the real-services run: ${missing} unreachable (set TEST_DATABASE_URL / TEST_REDIS_URL).`,
      );
    }
  }
}

const pass = results.reduce((n, r) => n + r.pass, 0);
const fail = results.reduce((n, r) => n + r.fail, 0);
const skip = results.reduce((n, r) => n + r.skip, 0);
console.log(
  `\n${results.map((r) => `${r.label}: ${r.pass} pass, ${r.fail} fail, ${r.skip} skip (exit ${r.code})`).join('\n')}`,
);
console.log(`tests: ${pass} passed, ${fail} failed, ${skip} skipped`);
const ok = results.length > 0 && results.every((r) => r.code === 0) && pass > 0;
process.exit(ok ? 0 : 1);
