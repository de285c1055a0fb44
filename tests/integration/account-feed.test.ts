import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import postgres from 'postgres';
import { ACCOUNT_TTL_MS, createAccountCache } from '../../src/modules/auth/accounts';
import { SESSION_SWEEP_MS } from '../../src/modules/auth/sessions';
import { CloseCodes } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { REAL_DB } from '../helpers/env';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { openSocket, upgradeAttempt } from '../helpers/ws';

setDefaultTimeout(60_000);

// The feed needs LISTEN/NOTIFY between connections: real PostgreSQL only (the embedded
// database has one connection, and there entries simply live for their TTL).
// bun evaluates a skipped describe's body too, so the servers start only on real PostgreSQL.
const server = REAL_DB ? await startTestServer() : undefined;
const api = server ? apiClient(server.url) : undefined;

describe.skipIf(!REAL_DB)('the account cache with its feed (migration 0021), on a clock of its own', () => {
  const TTL = 1_000;
  const ME = 'instance-a';

  async function setup() {
    const user = await api!.newUser('Cached Cora');
    let clock = 1_000_000;
    const cache = createAccountCache(server!.sql, { ttlMs: TTL, now: () => clock });
    return {
      user,
      cache,
      advance: (ms: number) => {
        clock += ms;
      },
      /** Our heartbeat, sent now, comes back. */
      beat: () => cache.feed.notified(`hb:${ME}:${clock}`, ME),
    };
  }

  test('without a feed, an account is read again once its TTL has passed', async () => {
    const { user, cache, advance } = await setup();
    expect((await cache.current(user.id))?.active).toBe(true);
    expect(cache.rowsRead()).toBe(1);
    advance(TTL - 1);
    expect(cache.current(user.id)).toMatchObject({ active: true }); // from memory, not a promise
    advance(2);
    await cache.current(user.id);
    expect(cache.rowsRead()).toBe(2);
  });

  test('while its heartbeat comes back, a known account is not read again, and a notification changes it', async () => {
    const { user, cache, advance, beat } = await setup();
    cache.feed.started();
    const first = await cache.current(user.id);
    for (let i = 0; i < 10; i++) {
      advance(TTL / 2);
      beat();
      expect(cache.current(user.id)).toEqual(first);
    }
    expect(cache.rowsRead()).toBe(1);
    cache.feed.notified(`a:${user.id}:${first!.version + 1}:admin:1`, ME);
    expect(cache.current(user.id)).toEqual({ version: first!.version + 1, role: 'admin', active: true });
    cache.feed.notified(`d:${user.id}`, ME);
    expect(cache.current(user.id)).toBeUndefined();
    expect(cache.rowsRead()).toBe(1);
  });

  test('a heartbeat that stops coming back, or another instance’s, does not keep entries', async () => {
    const { user, cache, advance, beat } = await setup();
    cache.feed.started();
    await cache.current(user.id);
    beat();
    advance(TTL); // our last heartbeat was sent a TTL ago
    expect(cache.feed.live()).toBe(false);
    await cache.current(user.id);
    expect(cache.rowsRead()).toBe(2);
    advance(TTL);
    cache.feed.notified(`hb:another-instance:${1_000_000 + 2 * TTL}`, ME);
    expect(cache.feed.live()).toBe(false);
    await cache.current(user.id);
    expect(cache.rowsRead()).toBe(3);
  });

  test('after a reconnect, what was learned before it is read again once past its TTL', async () => {
    const { user, cache, advance, beat } = await setup();
    cache.feed.started();
    await cache.current(user.id);
    advance(TTL / 2);
    cache.feed.started(); // the LISTEN connection dropped and came back: changes meanwhile are unknown
    beat();
    expect(cache.feed.live()).toBe(true);
    advance(TTL / 2);
    beat();
    await cache.current(user.id);
    expect(cache.rowsRead()).toBe(2);
    // Learned in this session: kept.
    advance(TTL * 3);
    beat();
    expect(cache.current(user.id)).toMatchObject({ active: true });
    expect(cache.rowsRead()).toBe(2);
  });

  test('a reset (TRUNCATE, a bulk change) or a payload it does not understand drops everything', async () => {
    const { user, cache, beat } = await setup();
    cache.feed.started();
    await cache.current(user.id);
    beat();
    cache.feed.notified('reset', ME);
    await cache.current(user.id);
    expect(cache.rowsRead()).toBe(2);
    cache.feed.notified(`a:${user.id}:not-a-version:member:1`, ME);
    await cache.current(user.id);
    expect(cache.rowsRead()).toBe(3);
  });

  test('a read that started before a reset is not kept', async () => {
    const { user, cache, advance, beat } = await setup();
    cache.feed.started();
    beat();
    const reading = cache.current(user.id); // the query is in flight
    advance(1);
    cache.feed.notified('reset', ME);
    await reading;
    await cache.current(user.id);
    expect(cache.rowsRead()).toBe(2);
  });

  test('the socket sweep reads only the accounts the live feed does not keep', async () => {
    const { user, cache, beat } = await setup();
    const other = await api!.newUser('Uncached Uma');
    cache.feed.started();
    await cache.current(user.id);
    beat();
    const states = await cache.readMany([user.id, other.id]);
    expect([...states.keys()].sort()).toEqual([user.id, other.id].sort());
    expect(cache.rowsRead()).toBe(2); // one for the first check, one for `other`
  });
});

/** The server's own cache. */
const accountsOf = (s: NonNullable<typeof server>) => s.runtime.tokens.accounts;

describe.skipIf(!REAL_DB)('an instance with a live account feed (real PostgreSQL)', () => {
  test('a server started on an existing team opens their sockets without reading accounts, and hears a change made in SQL', async () => {
    const team = [];
    // One at a time: the password gate answers 503 to a burst of hashes.
    for (let i = 0; i < 20; i++) team.push(await api!.newUser(`Member ${i}`));
    const later = await startTestServer({ db: server!.db });
    const accounts = accountsOf(later);
    await waitFor(() => accounts.feed.live(), { what: 'the account feed to be live' });
    // What an operator sees (the gauges sum the servers of this process).
    const metrics = await (await fetch(`${later.url}/metrics`)).text();
    expect(metrics).toMatch(/^hive_account_feed_live [1-9]/m);
    expect(metrics).toMatch(/^hive_account_rows_read_total \d+/m);
    const before = accounts.rowsRead();
    const sockets = await Promise.all(team.map((u) => openSocket(later.wsUrl, u.token)));
    expect(sockets.every((s) => s.closed === undefined)).toBe(true);
    expect(accounts.rowsRead() - before).toBe(0);

    // Deactivated in psql: the feed, not a read, refuses the next upgrade.
    const gone = team[0]!;
    await server!.sql`update users set is_active = false where id = ${gone.id}`;
    await waitFor(
      () => {
        const state = accounts.current(gone.id);
        return !(state instanceof Promise) && state?.active === false;
      },
      { timeoutMs: ACCOUNT_TTL_MS / 2, what: 'the notification to reach the instance' },
    );
    expect((await upgradeAttempt(later.url, `?token=${gone.token}`)).status).toBe(401);
    const stillIn = await openSocket(later.wsUrl, team[1]!.token);
    expect(stillIn.closed).toBeUndefined();
    expect(accounts.rowsRead() - before).toBe(0);
  });

  test('a change in SQL closes the account’s sockets at once, not at the next 2 s check', async () => {
    const accounts = accountsOf(server!);
    await waitFor(() => accounts.feed.live(), { what: 'the account feed to be live' });
    // Three in a row: the periodic check (every SESSION_SWEEP_MS) alone would close each
    // within 500 ms only by chance, one time in four.
    for (const name of ['Ada', 'Bo', 'Cy']) {
      const u = await api!.newUser(`Revoked ${name}`);
      const socket = await openSocket(server!.wsUrl, u.token);
      const changedAt = Date.now();
      await server!.sql`update users set role = 'admin' where id = ${u.id}`;
      const closed = await socket.waitClosed(SESSION_SWEEP_MS + 1_000);
      expect(closed.code).toBe(CloseCodes.sessionRevoked.code);
      expect(Date.now() - changedAt).toBeLessThan(SESSION_SWEEP_MS / 4);
    }
  });

  test('a change made while the LISTEN connection was down is seen once it is back', async () => {
    const u = await api!.newUser('Reconnecting Rita');
    const accounts = accountsOf(server!);
    await waitFor(() => accounts.feed.live(), { what: 'the account feed to be live' });
    expect((await apiClient(server!.url).get('/api/v1/users/me', u.token)).status).toBe(200);
    // A connection of its own (the server's pool must not be the one that waits).
    const direct = postgres(server!.db.url!, { max: 1, onnotice: () => {} });
    try {
      // The change is made but not committed until the listening backend has exited, so its
      // notification has nobody to go to (unless the reconnect is faster than the commit).
      await direct.begin(async (tx) => {
        await tx`update users set password_hash = 'changed elsewhere' where id = ${u.id}`;
        const [killed] = await tx<{ ok: boolean }[]>`
          select bool_and(pg_terminate_backend(pid, 5000)) as ok from pg_stat_activity
           where datname = current_database() and query ilike 'listen %'`;
        expect(killed?.ok).toBe(true);
      });
    } finally {
      await direct.end();
    }
    await waitFor(
      async () => (await apiClient(server!.url).get('/api/v1/users/me', u.token)).status === 401,
      {
        timeoutMs: 2 * ACCOUNT_TTL_MS + 1_000,
        what: 'the old token to be refused',
      },
    );
    await waitFor(() => accounts.feed.live(), { what: 'the account feed to be live again' });
  });
});

describe.skipIf(!REAL_DB)('what migration 0021 announces (real PostgreSQL)', () => {
  test('one message per changed account; one reset for a bulk change or a TRUNCATE; none for a new account', async () => {
    const own = await startTestServer();
    const direct = postgres(own.db.url!, { max: 1, onnotice: () => {} });
    const got: string[] = [];
    const sub = await direct.listen('hive_accounts', (payload) => {
      if (!payload.startsWith('hb:')) got.push(payload);
    });
    try {
      const [one] = await direct<{ id: string }[]>`
        insert into users (email, password_hash, full_name) values ('one@example.com', 'x', 'One') returning id`;
      await direct`
        insert into users (email, password_hash, full_name)
        select 'bulk' || i || '@example.com', 'x', 'Bulk ' || i from generate_series(1, 1000) as i`;
      await direct`update users set full_name = 'Renamed' where id = ${one!.id}`; // not announced
      await direct`update users set is_active = false where id = ${one!.id}`;
      await waitFor(() => got.length === 1, { what: 'the deactivation' });
      expect(got).toEqual([`a:${one!.id}:1:member:0`]);
      await direct`delete from users where id = ${one!.id}`;
      await waitFor(() => got.length === 2, { what: 'the delete' });
      expect(got[1]).toBe(`d:${one!.id}`);

      got.length = 0;
      await direct`update users set role = 'admin'`; // 1,000 rows: still one message each
      await waitFor(() => got.length === 1_000, { what: '1,000 changes' });
      expect(got.every((p) => /^a:[0-9a-f-]{36}:1:admin:1$/.test(p))).toBe(true);
      got.length = 0;
      await direct`insert into users (email, password_hash, full_name) values ('late@example.com', 'x', 'Late')`;
      await direct`update users set is_active = false`; // 1,001 rows: the 1,001st is a reset
      await waitFor(() => got.includes('reset'), { what: 'the reset' });
      expect(got.filter((p) => p === 'reset')).toHaveLength(1);
      expect(got.filter((p) => p.startsWith('a:'))).toHaveLength(1_000);

      got.length = 0;
      await direct`truncate users cascade`;
      await waitFor(() => got.length === 1, { what: 'the truncate' });
      expect(got).toEqual(['reset']);
    } finally {
      await sub.unlisten();
      await direct.end();
    }
  });
});
