/**
 * raiseListenBacklog finds this process's socket listening on the given port among its
 * descriptors, and resizes that one only. The queue a listening socket keeps is what `ss`
 * shows as its Send-Q; Bun listens with 512 (tests/integration/listen-backlog.test.ts shows
 * what the queue holds in a storm).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { raiseListenBacklog } from '../../src/lib/listen-backlog';

const somaxconn = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  } catch {
    return 0;
  }
})();
const linux = process.platform === 'linux' && somaxconn > 1_000;

/** The accept queue `ss` reports for the socket listening on `port`. */
function queueOf(port: number): number {
  const out = Bun.spawnSync(['ss', '-ltnH', `sport = :${port}`])
    .stdout.toString()
    .trim();
  const [state, , sendQ] = out.split(/\s+/);
  if (state !== 'LISTEN') throw new Error(`ss shows no socket listening on ${port}: ${JSON.stringify(out)}`);
  return Number(sendQ);
}

describe.skipIf(!linux)('raiseListenBacklog', () => {
  const fetch = () => new Response('ok');
  const servers = [Bun.serve({ port: 0, fetch }), Bun.serve({ port: 0, hostname: '::1', fetch })];
  afterAll(() => {
    for (const s of servers) s.stop(true);
  });

  test("resizes the queue of the socket on the port asked, not the process's other listeners", async () => {
    const [a, b] = servers as [Bun.Server<undefined>, Bun.Server<undefined>];
    expect(queueOf(a.port!)).toBe(512);
    const outcome = await raiseListenBacklog(b.port!, 1_000);
    expect(outcome).toMatchObject({ applied: true, backlog: 1_000 });
    expect(queueOf(b.port!)).toBe(1_000);
    expect(queueOf(a.port!)).toBe(512);
  });

  test('reports the queue the kernel keeps, capped by net.core.somaxconn', async () => {
    const [a] = servers as [Bun.Server<undefined>];
    const outcome = await raiseListenBacklog(a.port!, 65_535);
    expect(outcome).toMatchObject({ applied: true, backlog: somaxconn });
    expect(queueOf(a.port!)).toBe(somaxconn);
  });

  test('changes nothing when no socket of this process listens on the port', async () => {
    const outcome = await raiseListenBacklog(1, 1_000);
    expect(outcome).toEqual({ applied: false, reason: 'found 0 listening sockets for port 1, expected 1' });
  });
});
