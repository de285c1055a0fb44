import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Logger } from '../lib/logger';

/**
 * The zero-setup database: PGlite (PostgreSQL compiled to WASM) kept on disk under
 * HIVE_DATA_DIR and served on a loopback port, so postgres.js and node-pg-migrate talk to it
 * exactly as to a real server. It is single-connection: callers use a pool of one, and
 * LISTEN/NOTIFY is not relied on (events stay in process in this mode).
 */
export interface EmbeddedDatabase {
  url: string;
  /**
   * Resolves once no client is attached (or after `timeoutMs`). The socket server admits one
   * client at a time and refuses the next ("Too many connections") until the previous one's
   * close has been processed, so the runtime pool waits for the migration client to leave.
   */
  waitUntilIdle(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** `dataDir` undefined: in memory (tests). */
export async function startEmbeddedDatabase(
  dataDir: string | undefined,
  log: Logger,
): Promise<EmbeddedDatabase> {
  let dir: string | undefined;
  if (dataDir) {
    dir = resolve(dataDir, 'pgdata');
    await mkdir(dir, { recursive: true });
  }
  const started = performance.now();
  const db = dir ? await PGlite.create(dir) : await PGlite.create();
  // One client at a time is the rule (callers use a pool of one), but a second slot absorbs
  // the hand-over: when one client (e.g. the migration runner) closes and the next connects
  // at once, the server may not have processed the close yet, and with a single slot it
  // rejects the newcomer ("Too many connections") and start-up fails now and then.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 2 });
  await server.start();
  const address = server.getServerConn();
  const url = `postgres://postgres:postgres@${address}/postgres?sslmode=disable`;
  log.info('embedded database started', {
    data_dir: dir ?? 'memory',
    address,
    duration_ms: Math.round(performance.now() - started),
  });
  let stopped = false;
  return {
    url,
    async waitUntilIdle(timeoutMs = 2_000) {
      const deadline = Date.now() + timeoutMs;
      while (server.getStats().activeConnections > 0 && Date.now() < deadline) await Bun.sleep(5);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}
