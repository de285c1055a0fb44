/**
 * LISTEN_BACKLOG: a connect storm that arrives while the server's loop is busy waits in the
 * kernel's accept queue instead of being dropped. The server process is stopped (SIGSTOP: a
 * loop as busy as it gets, accepting nothing) while clients connect; the kernel completes a
 * handshake only while the listening socket's queue has room, and drops the SYNs beyond it
 * (those clients retry after 1 s, 3 s, 7 s). Bun listens with 512 whatever it is asked.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '../helpers/db';
import { spawnServer } from '../helpers/process';
import { testEnv } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { expectHolds } from '../helpers/ws';

setDefaultTimeout(60_000);

const somaxconn = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  } catch {
    return 0;
  }
})();
/** More than Bun's 512, within what the kernel allows a queue here. */
const STORM = Math.min(1_500, somaxconn - 16);
const linux = process.platform === 'linux' && STORM > 600;

const db = await createTestDatabase();
const dataDir = await mkdtemp(join(tmpdir(), 'hive-backlog-'));
afterAll(async () => {
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

/**
 * Connections waiting in the accept queue of the socket listening on `port`: the rx_queue
 * column of its row (state 0A, listening) in /proc/net/tcp or tcp6.
 */
function acceptQueue(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue …
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && cols[1]?.endsWith(`:${hexPort}`))
        return Number.parseInt(cols[4]!.split(':')[1]!, 16);
    }
  }
  throw new Error(`no socket listening on ${port}`);
}

const REQUEST = 'GET /health HTTP/1.1\r\nHost: hive\r\nConnection: close\r\n\r\n';

/**
 * Stop the server, then open `n` connections to it, each sending GET /health; the kernel
 * queues those it has room for until the process runs again.
 */
async function stormWhileStopped(env: Record<string, string>, n: number) {
  const server = await spawnServer(testEnv(db, { HIVE_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env }));
  const port = Number(new URL(server.url).port);
  server.proc.kill('SIGSTOP');
  let answered = 0;
  // Not awaited one by one: a connection whose SYN was dropped resolves only after its retry.
  const sockets = Array.from({ length: n }, () =>
    Bun.connect({
      hostname: '127.0.0.1',
      port,
      socket: {
        open(socket) {
          socket.write(REQUEST);
        },
        data(_socket, chunk) {
          if (chunk.toString().startsWith('HTTP/1.1 200')) answered += 1;
        },
        error() {},
      },
    }).catch(() => undefined),
  );
  return {
    server,
    queued: () => acceptQueue(port),
    answered: () => answered,
    resume: () => server.proc.kill('SIGCONT'),
    async close() {
      server.proc.kill('SIGCONT');
      for (const s of await Promise.all(sockets)) s?.end();
    },
  };
}

describe.skipIf(!linux)('the accept queue (LISTEN_BACKLOG)', () => {
  test(`${STORM} connections while the loop is stuck are all held, then all answered (default 4096)`, async () => {
    const storm = await stormWhileStopped({}, STORM);
    try {
      await waitFor(() => storm.queued() === STORM, {
        timeoutMs: 5_000,
        what: `all ${STORM} connections in the accept queue (Bun's own 512 holds 513)`,
      });
      storm.resume();
      await waitFor(() => storm.answered() === STORM, {
        timeoutMs: 15_000,
        what: `GET /health answered on all ${STORM} connections`,
      });
    } finally {
      await storm.close();
    }
    expect(storm.server.output()).toContain(`"listen_backlog":${Math.min(4096, somaxconn)}`);
    expect(await storm.server.stop()).toBe(0);
  });

  test("with LISTEN_BACKLOG=512, Bun's own, the kernel holds 513 and drops the rest (the control case)", async () => {
    const storm = await stormWhileStopped({ LISTEN_BACKLOG: '512' }, STORM);
    try {
      await waitFor(() => storm.queued() === 513, { timeoutMs: 5_000, what: 'a full queue of 513' });
      // Past the first SYN retry (1 s): those retries find the queue still full.
      await expectHolds(() => storm.queued() === 513, 1_300, 'the queue staying at 513 while stopped');
    } finally {
      await storm.close();
    }
    expect(await storm.server.stop()).toBe(0);
  });
});
