import { inSlices } from '../../lib/slices';
import type { PresenceChange } from '../../protocol/bus';

/** A user's row as loaded, with its status serialised once for every answer that carries it. */
export interface LoadedStatus extends PresenceChange {
  json: string;
}

/**
 * How long a row read for one subscription answer may serve another. Reusing it is as exact
 * as reading again: the fan-out merges every presence change the bus delivered after the read,
 * and the newer one wins by its sequence number (./fanout.ts `newestOf`); when the bus
 * reconnects, changes may have been missed meanwhile, and the fan-out calls `forget` before it
 * answers again. What the bus does not carry (a rename, a deletion) reaches answers within
 * this time. During a 10,000-user storm with 50 follows each, subscription answers read
 * 176,000 rows (7 MB of query parameters, 44 queries) without reuse: one row per follow.
 */
export const STATUS_REUSE_MS = 2_000;
/** Beyond this many rows kept, the ones older than STATUS_REUSE_MS are dropped. */
const SWEEP_ABOVE = 20_000;

interface Kept {
  /** The row, or null: no such user (unknown ids are asked for too). */
  row: LoadedStatus | null;
  /** When the query that read it was sent (the row is at least this fresh). */
  at: number;
}

/**
 * Current statuses for subscription answers, one query per round trip however many sockets
 * subscribe at once (the DataLoader pattern, like the transition writer's batching): during
 * a connect storm thousands of sockets subscribe within a second, and one `where id = any(…)`
 * per socket would queue in front of the presence writes. A row read in the last
 * STATUS_REUSE_MS is used again rather than read again.
 */
export function createStatusLoader(
  read: (userIds: string[]) => Promise<PresenceChange[]>,
  /** The clock (tests pass their own). */
  now: () => number = Date.now,
) {
  let waiting: {
    userIds: string[];
    resolve: (rows: Map<string, LoadedStatus>) => void;
    reject: (err: unknown) => void;
  }[] = [];
  let running = false;
  /** Rows by user id, in the order they were read (re-reading one moves it to the end). */
  let kept = new Map<string, Kept>();
  /** Moves on at each `forget`: a read already under way then keeps nothing. */
  let generation = 0;

  function keep(ids: readonly string[], rows: ReadonlyMap<string, LoadedStatus>, at: number): void {
    for (const id of ids) {
      kept.delete(id);
      kept.set(id, { row: rows.get(id) ?? null, at });
    }
    if (kept.size <= SWEEP_ABOVE) return;
    const stale = now() - STATUS_REUSE_MS;
    for (const [id, k] of kept) {
      if (k.at > stale) break;
      kept.delete(id);
    }
  }

  async function run(): Promise<void> {
    running = true;
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      const union = [...new Set(batch.flatMap((w) => w.userIds))];
      const at = now();
      const readIn = generation;
      try {
        const rows = new Map(
          (await read(union)).map((r) => [r.user.user_id, { ...r, json: JSON.stringify(r.user) }]),
        );
        if (readIn === generation) keep(union, rows, at);
        // Each waiter builds and writes a subscription answer: woken in slices.
        inSlices(batch, (w) => w.resolve(rows));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    running = false;
  }

  /** Ids with a row read recently enough, added to `into`; the others are returned. */
  function fromKept(userIds: readonly string[], into: Map<string, LoadedStatus>): string[] {
    const fresh = now() - STATUS_REUSE_MS;
    const missing: string[] = [];
    for (const id of userIds) {
      const k = kept.get(id);
      if (!k || k.at <= fresh) missing.push(id);
      else if (k.row) into.set(id, k.row);
    }
    return missing;
  }

  return {
    /** The rows of these users (unknown ids are absent), as a map by user id. */
    load(userIds: string[]): Promise<Map<string, LoadedStatus>> {
      const found = new Map<string, LoadedStatus>();
      const missing = fromKept(userIds, found);
      if (missing.length === 0) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const merge = (rows: Map<string, LoadedStatus>) => {
          for (const id of missing) {
            const row = rows.get(id);
            if (row) found.set(id, row);
          }
          resolve(found);
        };
        waiting.push({ userIds: missing, resolve: merge, reject });
        if (!running) void run();
      });
    },
    /** Read every row afresh from now on (the bus reconnected: changes may have been missed). */
    forget(): void {
      kept = new Map();
      generation += 1;
    },
  };
}
