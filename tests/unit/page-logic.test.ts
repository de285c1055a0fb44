import { describe, expect, test } from 'bun:test';
import { CloseCodes } from '../../src/protocol/frames';
import type { DashboardSummary, UserPublic } from '../../src/protocol/schemas';
import { RequestError, UnauthorizedError, UnreachableError } from '../../src/web/client/api';
import { connectionPill } from '../../src/web/client/connection';
import { fmt, initials, percent, relativeTime } from '../../src/web/client/format';
import {
  barRows,
  chipKeys,
  countsOf,
  hasFilters,
  labelFor,
  orderedKeys,
  toneFor,
} from '../../src/web/client/labels';
import { OnlineRoster } from '../../src/web/client/roster';
import {
  endNote,
  endReasonFor,
  loginErrorText,
  readSession,
  writeSession,
} from '../../src/web/client/session';

/** The dashboard page's pure helpers (src/web/client), without a browser. */

describe('formatting', () => {
  test('numbers, rates and times read the way the page shows them', () => {
    expect(fmt(1234567)).toBe('1,234,567');
    expect(percent(0)).toBe('0%');
    expect(percent(0.004)).toBe('0.4%'); // a small share is not rounded away to 0%
    expect(percent(0.456)).toBe('46%');
    expect(percent(Number.NaN)).toBe('0%');
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(relativeTime(null, now)).toBe('never');
    expect(relativeTime('2026-01-01T11:59:30Z', now)).toBe('just now');
    expect(relativeTime('2026-01-01T11:57:00Z', now)).toBe('3 min ago');
    expect(relativeTime('2026-01-01T09:00:00Z', now)).toBe('3 h ago');
    expect(relativeTime('2025-12-29T12:00:00Z', now)).toBe('3 d ago');
    expect(relativeTime('not a date', now)).toBe('');
  });

  test('initials take the first and last name, and never come out empty', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('  grace  brewster murray hopper ')).toBe('GH');
    expect(initials('Cher')).toBe('C');
    expect(initials('   ')).toBe('?');
  });
});

describe('labels and chart rows', () => {
  const summary = {
    total_tasks: 12,
    tasks_by_status: { todo: 3, in_progress: 2, review: 1, completed: 5, cancelled: 1 },
    tasks_by_priority: { low: 1, medium: 5, high: 4, urgent: 2 },
    tasks_by_category: { ops: 2, backend: 5, design: 2, web: 3 },
  } as unknown as DashboardSummary;

  test('statuses and priorities have names; unknown keys and categories show as they are', () => {
    expect(labelFor('status', 'in_progress')).toBe('In progress');
    expect(labelFor('priority', 'urgent')).toBe('Urgent');
    expect(labelFor('status', 'archived')).toBe('archived');
    expect(labelFor('status', 'constructor')).toBe('constructor'); // not a prototype property
    expect(labelFor('category', 'todo')).toBe('todo');
    expect(toneFor('status', 'completed')).toBe('tone-completed');
    expect(toneFor('status', 'archived')).toBe('tone-other');
    expect(toneFor('category', 'ops')).toBe('tone-category');
  });

  test('known keys keep their natural order with new ones after; categories go by count, then name', () => {
    expect(orderedKeys('status', { archived: 1, todo: 2 })).toEqual([
      'todo',
      'in_progress',
      'review',
      'completed',
      'cancelled',
      'archived',
    ]);
    expect(orderedKeys('category', countsOf(summary, 'category'))).toEqual([
      'backend',
      'web',
      'design',
      'ops',
    ]);
    expect(countsOf(undefined, 'status')).toEqual({});
  });

  test('past the limit, the smallest categories are summed into one "Other" bar', () => {
    const counts = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`c${i}`, 10 - i]));
    const rows = barRows('category', counts, 8);
    expect(rows).toHaveLength(8);
    expect(rows[6]).toMatchObject({ key: 'c6', value: 4 });
    expect(rows[7]).toEqual({ key: '', label: 'Other (3)', value: 3 + 2 + 1, tone: 'tone-other' });
    expect(barRows('status', countsOf(summary, 'status')).map((r) => r.value)).toEqual([3, 2, 1, 5, 1]);
  });

  test('category chips are the top twelve, plus the selected one if it is not among them', () => {
    const counts = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`c${i}`, 15 - i]));
    expect(chipKeys('category', counts)).toHaveLength(12);
    expect(chipKeys('category', counts, 'c14').slice(-1)).toEqual(['c14']);
    expect(chipKeys('category', counts, 'c0')).toHaveLength(12);
    expect(hasFilters({})).toBe(false);
    expect(hasFilters({ status: undefined, category: 'ops' })).toBe(true);
  });
});

describe('the online roster', () => {
  const user = (id: string, full_name: string, role: 'admin' | 'member' = 'member'): UserPublic => ({
    id,
    full_name,
    role,
    is_online: true,
    last_seen_at: null,
  });
  const status = (user_id: string, full_name: string, is_online: boolean) => ({
    user_id,
    full_name,
    is_online,
    last_seen_at: null,
  });

  test('sorted by name; frames add and remove people and say whether they were new', () => {
    const roster = new OnlineRoster();
    expect(roster.loaded).toBe(false);
    roster.replace(
      [user('b', 'Bea'), user('a', 'Al', 'admin'), { ...user('x', 'Gone'), is_online: false }],
      5,
      0,
    );
    expect(roster.loaded).toBe(true);
    expect(roster.sorted().map((p) => p.full_name)).toEqual(['Al', 'Bea']);
    expect(roster.extra).toBe(2); // X-Total-Count beyond the page
    expect(roster.apply(status('c', 'Cy', true))).toBe('joined');
    expect(roster.apply(status('a', 'Al', true))).toBe('online');
    expect(roster.sorted().find((p) => p.id === 'a')?.role).toBe('admin'); // a frame keeps the known role
    expect(roster.apply(status('b', 'Bea', false))).toBe('left');
    expect(roster.sorted().map((p) => p.id)).toEqual(['a', 'c']);
  });

  test('frames that arrive while the list is in flight win over its older answer', () => {
    const roster = new OnlineRoster();
    const mark = roster.mark();
    roster.apply(status('a', 'Al', false)); // left after the list was read
    roster.apply(status('c', 'Cy', true)); // arrived after the list was read
    roster.replace([user('a', 'Al'), user('b', 'Bea')], 2, mark);
    expect(roster.sorted().map((p) => p.id)).toEqual(['b', 'c']);
    // The next list, asked for after those frames, is believed as it is.
    roster.replace([user('a', 'Al'), user('c', 'Cy', 'admin')], 2, roster.mark());
    expect(roster.sorted().map((p) => [p.id, p.role])).toEqual([
      ['a', 'member'],
      ['c', 'admin'],
    ]);
    roster.clear();
    expect(roster.sorted()).toEqual([]);
    expect(roster.loaded).toBe(false);
  });

  test('a list asked for before the one shown answers late: it is older news and is dropped', () => {
    const roster = new OnlineRoster();
    const first = roster.mark(); // asked for as the socket opened
    roster.apply(status('me', 'Me', true)); // our own arrival; the page asks again for the role
    roster.replace([user('me', 'Me', 'admin')], 1, roster.mark());
    roster.replace([], 0, first); // the first answer, late, from before we were online
    expect(roster.sorted().map((p) => [p.id, p.role])).toEqual([['me', 'admin']]);
    expect(roster.extra).toBe(0);
  });
});

describe('the session', () => {
  test('a close advising sign-in ends the session with the matching message', () => {
    expect(endReasonFor(CloseCodes.sessionRevoked.code)).toBe('revoked');
    expect(endReasonFor(CloseCodes.tokenExpired.code)).toBe('expired');
    expect(endNote('expired')).toBe('Your session has expired. Sign in again to see who is online.');
    expect(endNote('revoked')).toContain('Sign in again');
    expect(endNote('signed_out')).toBeUndefined();
  });

  test('sign-in failures are said plainly', () => {
    expect(loginErrorText(new UnauthorizedError('x'))).toBe('Wrong email or password.');
    expect(loginErrorText(new UnreachableError('x'))).toBe('Cannot reach the server. Try again in a moment.');
    expect(loginErrorText(new RequestError(429, 'rate_limited', 'x'))).toBe(
      'Too many attempts. Wait a minute and try again.',
    );
    expect(loginErrorText(new RequestError(400, 'validation_error', 'Email is not valid.'))).toBe(
      'Email is not valid.',
    );
    expect(loginErrorText(new Error('boom'))).toBe('Sign-in failed.');
  });

  test('only the token and its expiry are stored, and a malformed entry is ignored', () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
      removeItem: (k: string) => void store.delete(k),
    };
    writeSession(storage, { token: 't', expiresAt: 42, me: { email: 'a@b' } as never });
    expect(JSON.parse(store.get('hive.session')!)).toEqual({ token: 't', expiresAt: 42 });
    expect(readSession(storage)).toEqual({ token: 't', expiresAt: 42 });
    writeSession(storage);
    expect(readSession(storage)).toBeUndefined();
    for (const bad of ['not json', 'null', '{"token":1,"expiresAt":2}']) {
      store.set('hive.session', bad);
      expect(readSession(storage)).toBeUndefined();
    }
    const broken = {
      getItem: () => {
        throw new Error('storage disabled');
      },
      setItem: () => {
        throw new Error('storage disabled');
      },
      removeItem: () => {},
    };
    expect(readSession(broken)).toBeUndefined();
    expect(() => writeSession(broken, { token: 't', expiresAt: 1 })).not.toThrow();
  });
});

describe('the connection pill', () => {
  const base = { unreachable: false, liveOpen: false, signedIn: false, liveState: undefined, attempt: 0 };
  test('says how the page is kept current', () => {
    expect(connectionPill(base)).toEqual({ kind: 'polling', text: 'Auto-refresh every 5 s' });
    expect(connectionPill({ ...base, unreachable: true })).toEqual({
      kind: 'down',
      text: 'Server unreachable · retrying',
    });
    expect(connectionPill({ ...base, signedIn: true })).toMatchObject({ kind: 'connecting' });
    expect(connectionPill({ ...base, signedIn: true, liveState: 'open', liveOpen: true })).toMatchObject({
      kind: 'live',
      text: 'Live',
    });
    expect(connectionPill({ ...base, signedIn: true, liveState: 'reconnecting', attempt: 1 }).text).toBe(
      'Reconnecting…',
    );
    expect(connectionPill({ ...base, signedIn: true, liveState: 'reconnecting', attempt: 3 }).text).toBe(
      'Reconnecting… (attempt 3)',
    );
    // The server said not to reconnect: the page is back to polling.
    expect(connectionPill({ ...base, signedIn: true, liveState: 'stopped' })).toMatchObject({
      kind: 'polling',
    });
  });
});
