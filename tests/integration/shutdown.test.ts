import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiClient } from '../helpers/api';
import { createTestDatabase } from '../helpers/db';
import { spawnServer } from '../helpers/process';
import { testEnv } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/**
 * Graceful shutdown of a real `bun src/index.ts` process: on SIGTERM it stops accepting
 * connections, lets in-flight requests finish, closes PostgreSQL and Redis, and exits 0.
 */
setDefaultTimeout(90_000);
const db = await createTestDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'hive-shutdown-'));
afterAll(async () => {
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Resolves with everything the server sent once it closes the connection. */
function collect(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    socket.on('data', (d) => {
      out += d.toString('latin1');
    });
    socket.on('close', () => resolve(out));
    socket.on('error', () => resolve(out));
  });
}

async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return false;
  } catch {
    return true;
  }
}

describe('SIGTERM', () => {
  test('an in-flight request finishes, new connections are refused, then the process exits 0', async () => {
    const proc = await spawnServer({ ...testEnv(db), HIVE_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    const api = apiClient(proc.url);
    const user = await api.newUser('Shutdown Sue');
    const { hostname, port } = new URL(proc.url);

    // Start a task creation whose body arrives in two parts: the request is in flight (headers
    // and half the body received) until we send the rest.
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const reply = collect(socket);
    const body = JSON.stringify({ title: 'finished during shutdown', description: 'x'.repeat(2000) });
    const half = body.slice(0, 1000);
    const rest = body.slice(1000);
    socket.write(
      `POST /api/v1/tasks HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${user.token}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `${half.length.toString(16)}\r\n${half}\r\n`,
    );
    // Another request answered after ours was written means the server has read ours.
    expect((await api.get('/health')).status).toBe(200);

    proc.proc.kill('SIGTERM');
    await waitFor(() => proc.output().includes('"msg":"shutting down"'), { what: 'shutdown to begin' });
    // The listener closes while our request is still open.
    await waitFor(() => refusesConnections(proc.url), {
      timeoutMs: 10_000,
      what: 'new connections to be refused',
    });
    expect(proc.proc.exitCode).toBeNull();

    socket.write(`${rest.length.toString(16)}\r\n${rest}\r\n0\r\n\r\n`);
    const text = await reply;
    expect(text).toStartWith('HTTP/1.1 201');
    expect(text).toContain('"title":"finished during shutdown"');

    expect(await proc.proc.exited).toBe(0);
    const out = proc.output();
    expect(out).toContain('"msg":"stopped"');
    expect(out).not.toContain('"level":"error"');
  });

  test('SIGINT (Ctrl-C) stops it the same way; an idle server exits 0 promptly', async () => {
    const proc = await spawnServer({ ...testEnv(db), HIVE_DATA_DIR: dataDir, LOG_LEVEL: 'info' });
    expect((await apiClient(proc.url).get('/health')).status).toBe(200);
    const started = performance.now();
    proc.proc.kill('SIGINT');
    expect(await proc.proc.exited).toBe(0);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(proc.output()).toContain('"msg":"stopped"');
  });
});
