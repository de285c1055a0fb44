import { describe, expect, test } from 'bun:test';
import { createStatusLoader, STATUS_REUSE_MS } from '../../src/modules/presence/status-loader';
import { createSubscriptionRegistry } from '../../src/modules/presence/subscriptions';
import type { PresenceChange } from '../../src/protocol/bus';

/**
 * Subscription answers reuse a row read in the last STATUS_REUSE_MS instead of reading it
 * again (bench/RESULTS.md: a 10,000-user storm read 176,000 rows without it). What must hold:
 * a row is reused only within that time, never across `forget` (the bus reconnected), and a
 * read that was under way when `forget` came is not reused either. The database side is a
 * function here, so each test can see exactly which ids were read. Users are named by a
 * letter (a hex digit) here; their ids are uuids ending in it. User c has no row.
 */
const idOf = (name: string) => `00000000-0000-4000-8000-${name.padStart(12, '0')}`;
const nameOf = (id: string) => id.slice(-12).replace(/^0+/, '');
const row = (name: string, seq: number): PresenceChange => ({
  user: { user_id: idOf(name), full_name: `User ${name}`, is_online: seq % 2 === 1, last_seen_at: null },
  seq,
});

function harness() {
  const reads: string[][] = [];
  const rows = new Map<string, PresenceChange>([
    ['a', row('a', 1)],
    ['b', row('b', 2)],
  ]);
  let clock = 1_000_000;
  let gate: Promise<void> | undefined;
  const loader = createStatusLoader(
    async (ids) => {
      const names = ids.map(nameOf);
      reads.push([...names].sort());
      const answer = names.flatMap((name) => (rows.has(name) ? [rows.get(name)!] : []));
      await gate;
      return answer;
    },
    () => clock,
  );
  const registry = createSubscriptionRegistry();
  /** Load these users' rows; their sequence numbers, by name, as the answer would see them. */
  async function load(names: string[]): Promise<Record<string, number>> {
    const records = names.map((name) => registry.record(name.length === 1 ? idOf(name) : name));
    await loader.load(records);
    const seqs: Record<string, number> = {};
    for (const [i, r] of records.entries()) if (r.row) seqs[names[i]!] = r.row.seq;
    return seqs;
  }
  return {
    loader,
    load,
    reads,
    rows,
    advance: (ms: number) => {
      clock += ms;
    },
    hold: () => {
      let release!: () => void;
      gate = new Promise((r) => {
        release = r;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe('presence status loader', () => {
  test('a row read for one answer serves the next ones within the reuse time, unknown ids too', async () => {
    const h = harness();
    expect(await h.load(['a', 'c'])).toEqual({ a: 1 });
    h.rows.set('a', row('a', 3)); // the database moved on; the bus would carry this change
    h.advance(STATUS_REUSE_MS - 1);
    expect(await h.load(['a', 'b', 'c'])).toEqual({ a: 1, b: 2 });
    // Only b was read the second time: a and the unknown id came from the first read.
    expect(h.reads).toEqual([['a', 'c'], ['b']]);
    h.advance(1);
    expect(await h.load(['a'])).toEqual({ a: 3 });
    expect(h.reads.at(-1)).toEqual(['a']);
  });

  test('after forget (the bus reconnected), every row is read again', async () => {
    const h = harness();
    await h.load(['a', 'b']);
    h.rows.set('b', row('b', 4));
    h.loader.forget();
    expect(await h.load(['a', 'b'])).toEqual({ a: 1, b: 4 });
    expect(h.reads).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  test('a read under way when forget comes answers its callers but is not reused', async () => {
    const h = harness();
    const release = h.hold();
    const first = h.load(['a']);
    h.loader.forget();
    release();
    expect(await first).toEqual({ a: 1 });
    await h.load(['a']);
    expect(h.reads).toEqual([['a'], ['a']]);
  });

  test('callers waiting together share one read, each getting its own ids', async () => {
    const h = harness();
    const release = h.hold();
    const first = h.load(['a']);
    const [second, third] = [h.load(['b']), h.load(['a', 'b'])];
    release();
    expect(await first).toEqual({ a: 1 });
    expect(await second).toEqual({ b: 2 });
    expect(await third).toEqual({ a: 1, b: 2 });
    // The first read was under way when the others asked: they shared the next one.
    expect(h.reads).toEqual([['a'], ['a', 'b']]);
  });

  test('an id that cannot name a user is never read', async () => {
    const h = harness();
    expect(await h.load(['a', 'not-a-uuid', "x'); drop table users; --"])).toEqual({ a: 1 });
    expect(h.reads).toEqual([['a']]);
  });
});
