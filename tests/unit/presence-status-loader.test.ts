import { describe, expect, test } from 'bun:test';
import { createStatusLoader, STATUS_REUSE_MS } from '../../src/modules/presence/status-loader';
import type { PresenceChange } from '../../src/protocol/bus';

/**
 * Subscription answers reuse a row read in the last STATUS_REUSE_MS instead of reading it
 * again (bench/RESULTS.md: a 10,000-user storm read 176,000 rows without it). What must hold:
 * a row is reused only within that time, never across `forget` (the bus reconnected), and a
 * read that was under way when `forget` came is not reused either. The database side is a
 * function here, so each test can see exactly which ids were read.
 */
const row = (id: string, seq: number): PresenceChange => ({
  user: { user_id: id, full_name: `User ${id}`, is_online: seq % 2 === 1, last_seen_at: null },
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
      reads.push([...ids].sort());
      const answer = ids.flatMap((id) => (rows.has(id) ? [rows.get(id)!] : []));
      await gate;
      return answer;
    },
    () => clock,
  );
  return {
    loader,
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

const seqs = (m: Map<string, PresenceChange>) => Object.fromEntries([...m].map(([id, r]) => [id, r.seq]));

describe('presence status loader', () => {
  test('a row read for one answer serves the next ones within the reuse time, unknown ids too', async () => {
    const h = harness();
    expect(seqs(await h.loader.load(['a', 'nobody']))).toEqual({ a: 1 });
    h.rows.set('a', row('a', 3)); // the database moved on; the bus would carry this change
    h.advance(STATUS_REUSE_MS - 1);
    expect(seqs(await h.loader.load(['a', 'b', 'nobody']))).toEqual({ a: 1, b: 2 });
    // Only b was read the second time: a and the unknown id came from the first read.
    expect(h.reads).toEqual([['a', 'nobody'], ['b']]);
    h.advance(1);
    expect(seqs(await h.loader.load(['a']))).toEqual({ a: 3 });
    expect(h.reads.at(-1)).toEqual(['a']);
  });

  test('after forget (the bus reconnected), every row is read again', async () => {
    const h = harness();
    await h.loader.load(['a', 'b']);
    h.rows.set('b', row('b', 4));
    h.loader.forget();
    expect(seqs(await h.loader.load(['a', 'b']))).toEqual({ a: 1, b: 4 });
    expect(h.reads).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  test('a read under way when forget comes answers its callers but is not reused', async () => {
    const h = harness();
    const release = h.hold();
    const first = h.loader.load(['a']);
    h.loader.forget();
    release();
    expect(seqs(await first)).toEqual({ a: 1 });
    await h.loader.load(['a']);
    expect(h.reads).toEqual([['a'], ['a']]);
  });

  test('callers waiting together share one read, each getting its own ids', async () => {
    const h = harness();
    const release = h.hold();
    const first = h.loader.load(['a']);
    const [second, third] = [h.loader.load(['b']), h.loader.load(['a', 'b'])];
    release();
    expect(seqs(await first)).toEqual({ a: 1 });
    expect(seqs(await second)).toEqual({ b: 2 });
    expect(seqs(await third)).toEqual({ a: 1, b: 2 });
    // The first read was under way when the others asked: they shared the next one.
    expect(h.reads).toEqual([['a'], ['a', 'b']]);
  });
});
