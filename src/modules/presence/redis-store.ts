import type Redis from 'ioredis';
import { afterSlice } from '../../lib/slices';
import type { PresenceStore, Transition } from './store';

/**
 * Presence shared by every instance through Redis. Keys (all under `${prefix}presence:`):
 *   instances        ZSET instance id → expiry (Redis clock, ms); renewed by each instance's heartbeat
 *   inst:<instance>  HASH connection id → user id: the connections an instance holds
 *   user:<user>      SET of connection ids, on any instance: the user's live connections
 *   online           SET of users whose online transition has been announced
 *   pending          ZSET user → offline deadline (grace after their last connection closed)
 *   seq              the last transition's sequence number (Redis clock in µs, strictly increasing)
 *
 * Expiry is per instance, not per connection: a heartbeat is one ZADD however many sockets
 * the instance holds, and a crashed instance's connections all expire together. Every
 * operation is one Lua script, so two instances can never both see the same 0→1 or 1→0
 * change: a transition is announced once. Times come from Redis's own clock (TIME), so
 * instances with skewed clocks agree on what has expired.
 * Not for Redis Cluster: the scripts touch keys computed from their arguments.
 */

// Every script's ARGV starts with: prefix, silenceMs (0: never settle), settleMs, expiryMs,
// and 1 when the calling instance has reached this store before (else 0). Script-specific
// arguments follow from ARGV[6].
const NOW = `
local prefix = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Each transition's sequence number: Redis's clock in microseconds, strictly increasing
-- (about 1.8e15 today, exact in a Lua double). The database write of a transition applies
-- only over an older one, so two instances' crossing writes keep the latest state.
local function next_seq()
  local t = redis.call('TIME')
  local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local seq = math.max(tonumber(redis.call('GET', prefix .. 'seq') or '0') + 1, now_us)
  redis.call('SET', prefix .. 'seq', string.format('%.0f', seq))
  return seq
end
-- Every call notes the time. A gap longer than silenceMs means no instance reached Redis
-- for that long: Redis was down, frozen or cut off from all of them. No time noted at all,
-- seen by an instance that has used this store before, means Redis lost its data (restarted
-- empty); seen by a new instance, just a new store. Nobody could renew anything meanwhile,
-- so nothing is expired before every instance has had settleMs to come back and
-- re-register: instances alive when the silence began are kept for settleMs plus a normal
-- expiry, and sweeps wait out settleMs. Returns the milliseconds left before sweeps may act.
local function settle_left(now)
  local silence = tonumber(ARGV[2])
  local settled_at = tonumber(redis.call('GET', prefix .. 'settle') or '0')
  if silence > 0 then
    local noted = redis.call('GET', prefix .. 'clock')
    local last = tonumber(noted or '0')
    if (noted and now - last > silence) or (not noted and ARGV[5] == '1') then
      settled_at = math.max(settled_at, now + tonumber(ARGV[3]))
      redis.call('SET', prefix .. 'settle', string.format('%.0f', settled_at))
      local keep = settled_at + tonumber(ARGV[4])
      local alive = redis.call('ZRANGEBYSCORE', KEYS[1], last, '+inf', 'WITHSCORES')
      for i = 1, #alive, 2 do
        if tonumber(alive[i + 1]) < keep then redis.call('ZADD', KEYS[1], keep, alive[i]) end
      end
    end
    redis.call('SET', prefix .. 'clock', string.format('%.0f', now))
  end
  return math.max(0, settled_at - now)
end
`;

// Drop one connection; when it was the user's last and they are announced online, schedule
// their offline transition at `deadline`. Shared by disconnect, resync and the sweeper.
const DROP_CONN = `
local function drop_conn(conn, uid, deadline)
  local ukey = prefix .. 'user:' .. uid
  redis.call('SREM', ukey, conn)
  if redis.call('SCARD', ukey) == 0 and redis.call('SISMEMBER', KEYS[2], uid) == 1 then
    redis.call('ZADD', KEYS[3], deadline, uid)
    return 1
  end
  return 0
end
`;

// Connections opened and closed on this instance, in the order they happened, in one call
// (a connect storm is a few hundred calls, not one per socket). KEYS: instances, online,
// pending. ARGV 6..: instance, then per connection: op ('c' open, 'd' close), conn, user,
// graceMs (closes). Per connection, in order: for an open, the transition's sequence number
// when it turned its user online, else 0; for a close, 1 when it set an offline deadline.
const APPLY = `${NOW}${DROP_CONN}
local now = now_ms()
settle_left(now)
local ikey = prefix .. 'inst:' .. ARGV[6]
local out = {}
for i = 7, #ARGV, 4 do
  local conn, uid = ARGV[i + 1], ARGV[i + 2]
  if ARGV[i] == 'c' then
    redis.call('HSET', ikey, conn, uid)
    redis.call('SADD', prefix .. 'user:' .. uid, conn)
    redis.call('ZREM', KEYS[3], uid)
    if redis.call('SADD', KEYS[2], uid) == 1 then out[#out + 1] = next_seq() else out[#out + 1] = 0 end
  else
    redis.call('HDEL', ikey, conn)
    out[#out + 1] = drop_conn(conn, uid, now + tonumber(ARGV[i + 3]))
  end
end
return out
`;

// ARGV 6..: instance. Returns 1 when the instance was known and unexpired.
const HEARTBEAT = `${NOW}
local now = now_ms()
settle_left(now)
local prev = redis.call('ZSCORE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[6])
if prev and tonumber(prev) >= now then return 1 end
return 0
`;

// ARGV 6..: instance, graceMs, then conn, user pairs. Returns users turned online, as a flat
// list of user, sequence pairs.
const RESYNC = `${NOW}${DROP_CONN}
local now = now_ms()
settle_left(now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[6])
local ikey = prefix .. 'inst:' .. ARGV[6]
local live = {}
for i = 8, #ARGV, 2 do live[ARGV[i]] = true end
local held = redis.call('HGETALL', ikey)
for i = 1, #held, 2 do
  if not live[held[i]] then
    redis.call('HDEL', ikey, held[i])
    drop_conn(held[i], held[i + 1], now + tonumber(ARGV[7]))
  end
end
local turned = {}
for i = 8, #ARGV, 2 do
  local conn, uid = ARGV[i], ARGV[i + 1]
  redis.call('HSET', ikey, conn, uid)
  redis.call('SADD', prefix .. 'user:' .. uid, conn)
  redis.call('ZREM', KEYS[3], uid)
  if redis.call('SADD', KEYS[2], uid) == 1 then
    turned[#turned + 1] = uid
    turned[#turned + 1] = next_seq()
  end
end
return turned
`;

// Expired instances lose their connections (their users go offline at once: the TTL already
// was their grace), then due offline deadlines are taken; nothing while settling after a
// silence. Returns users now offline, as a flat list of user, sequence pairs.
const SWEEP = `${NOW}${DROP_CONN}
local now = now_ms()
if settle_left(now) > 0 then return {} end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 20)
for _, inst in ipairs(dead) do
  local ikey = prefix .. 'inst:' .. inst
  local held = redis.call('HGETALL', ikey)
  for i = 1, #held, 2 do drop_conn(held[i], held[i + 1], now) end
  redis.call('DEL', ikey)
  redis.call('ZREM', KEYS[1], inst)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 5000)
local gone = {}
for _, uid in ipairs(due) do
  redis.call('ZREM', KEYS[3], uid)
  if redis.call('SCARD', prefix .. 'user:' .. uid) == 0 and redis.call('SREM', KEYS[2], uid) == 1 then
    gone[#gone + 1] = uid
    gone[#gone + 1] = next_seq()
  end
end
return gone
`;

// ARGV 6..: instance, graceMs. Whatever connections remain leave with the usual grace.
const REMOVE_INSTANCE = `${NOW}${DROP_CONN}
local now = now_ms()
settle_left(now)
local ikey = prefix .. 'inst:' .. ARGV[6]
local held = redis.call('HGETALL', ikey)
for i = 1, #held, 2 do drop_conn(held[i], held[i + 1], now + tonumber(ARGV[7])) end
redis.call('DEL', ikey)
redis.call('ZREM', KEYS[1], ARGV[6])
return 0
`;

// The users announced online, after a sequence number taken in the same atomic step and the
// time left settling: { seq, settleLeftMs, user, user, … }.
const ONLINE_SNAPSHOT = `${NOW}
local left = settle_left(now_ms())
local out = { next_seq(), left }
for _, uid in ipairs(redis.call('SMEMBERS', KEYS[2])) do out[#out + 1] = uid end
return out
`;

/** A flat Lua reply of user, sequence pairs. */
function pairs(reply: unknown): Transition[] {
  const flat = reply as (string | number)[];
  const out: Transition[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2)
    out.push({ userId: String(flat[i]), seq: Number(flat[i + 1]) });
  return out;
}

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** A connection opened ('c') or closed ('d'), waiting for the next APPLY call. */
interface Op {
  kind: 'c' | 'd';
  connId: string;
  userId: string;
  graceMs: number;
  /** When it was asked for (performance.now()): a close's grace runs from then. */
  at: number;
  /** The grace still left when the call was sent (set by the sender). */
  graceLeftMs: number;
  resolve(done: { result: number; graceLeftMs: number }): void;
  reject(err: unknown): void;
}

/**
 * Opens and closes per APPLY call at most. Each is a few Redis commands, and a script holds
 * Redis for its whole run: a bound keeps other clients from waiting long behind one call.
 */
const MAX_OPS_PER_CALL = 500;

export function createRedisPresenceStore(opts: {
  redis: Redis;
  prefix: string;
  instanceId: string;
  /** How long this instance's connections outlive its last heartbeat. */
  instanceExpiryMs: number;
  /** Grace used when `removeInstance` finds connections still registered. */
  graceMs: number;
  /**
   * A gap of `afterMs` between any two calls from any instance is taken as Redis having been
   * unreachable for everyone; sweeps then wait `settleMs` (see `settle_left`). Off when absent.
   */
  silence?: { afterMs: number; settleMs: number };
}): PresenceStore {
  const { redis, instanceId } = opts;
  const base = `${opts.prefix}presence:`;
  const keys = [`${base}instances`, `${base}online`, `${base}pending`];
  const header = [base, opts.silence?.afterMs ?? 0, opts.silence?.settleMs ?? 0, opts.instanceExpiryMs];
  /** Whether a script of ours has run on this store yet (see `settle_left`). */
  let reachedBefore = 0;
  const scripts = { APPLY, HEARTBEAT, RESYNC, SWEEP, REMOVE_INSTANCE, ONLINE_SNAPSHOT };
  // defineCommand runs EVALSHA and falls back to EVAL on NOSCRIPT, so a restarted Redis
  // (empty script cache) needs nothing from us.
  for (const [name, lua] of Object.entries(scripts)) {
    if (!(redis as unknown as Record<string, unknown>)[`presence${name}`])
      redis.defineCommand(`presence${name}`, { numberOfKeys: keys.length, lua });
  }
  const call = async (name: keyof typeof scripts, ...args: (string | number)[]) => {
    const script = (redis as unknown as Record<string, ScriptFn>)[`presence${name}`] as ScriptFn;
    const reply = await script.call(redis, ...keys, ...header, reachedBefore, ...args);
    reachedBefore = 1;
    return reply;
  };
  const ops = createOpBatcher((batch) => {
    // A close's grace runs from the close, not from when a busy loop got round to sending it:
    // what is left of it is sent, as a duration, so no clock but Redis's sets the deadline.
    const now = performance.now();
    for (const op of batch) op.graceLeftMs = Math.max(0, op.graceMs - Math.round(now - op.at));
    return call(
      'APPLY',
      instanceId,
      ...batch.flatMap((op) => [op.kind, op.connId, op.userId, op.graceLeftMs]),
    );
  });
  /** Any other script: after the opens and closes already asked for, as if each were sent at once. */
  const run = (name: keyof typeof scripts, ...args: (string | number)[]) => {
    ops.flush();
    return call(name, ...args);
  };

  return {
    async connect(connId, userId) {
      const { result: seq } = await ops.add('c', connId, userId, 0);
      return seq > 0 ? seq : undefined;
    },
    async disconnect(connId, userId, graceMs) {
      const { result, graceLeftMs } = await ops.add('d', connId, userId, graceMs);
      // Not before Redis's deadline (the script ran at the latest now): a sweep then finds it due.
      return result === 1 ? Date.now() + graceLeftMs : undefined;
    },
    async heartbeat() {
      return (await run('HEARTBEAT', instanceId)) === 1;
    },
    async resync(live, graceMs) {
      const connUserPairs = live.flatMap((c) => [c.connId, c.userId]);
      return pairs(await run('RESYNC', instanceId, graceMs, ...connUserPairs));
    },
    async sweep() {
      return pairs(await run('SWEEP'));
    },
    async onlineUsers() {
      const [seq, settleLeftMs, ...users] = (await run('ONLINE_SNAPSHOT')) as (string | number)[];
      return { seq: Number(seq), settleLeftMs: Number(settleLeftMs), users: users.map(String) };
    },
    async removeInstance() {
      await run('REMOVE_INSTANCE', instanceId, opts.graceMs);
    },
    onReconnect(handler) {
      // 'ready' after a 'close': the connection came back (a first connect is not a return).
      let lost = false;
      const onClose = () => {
        lost = true;
      };
      const onReady = () => {
        if (!lost) return;
        lost = false;
        handler();
      };
      redis.on('close', onClose);
      redis.on('ready', onReady);
      return () => {
        redis.off('close', onClose);
        redis.off('ready', onReady);
      };
    },
  };
}

/**
 * Opens and closes are collected and sent as APPLY calls, in order: during a connect storm one
 * script per socket cost a command object, a promise and a reply parse each (a tenth of the
 * storm's profile with the Redis script's own time), and every socket's open waited behind
 * thousands of single scripts. They are collected for one event-loop turn, or to the end of
 * the slice they were made in (`afterSlice`: a storm's upgrades resume in slices). `flush`
 * sends what is collected now, so another script called meanwhile runs after them, as it
 * would have unbatched.
 */
function createOpBatcher(send: (batch: Op[]) => Promise<unknown>) {
  let pending: Op[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    while (pending.length > 0) {
      const batch = pending.slice(0, MAX_OPS_PER_CALL);
      pending = pending.slice(batch.length);
      send(batch).then(
        (reply) => {
          const results = reply as (number | string)[];
          for (let i = 0; i < batch.length; i++) {
            const op = batch[i]!;
            op.resolve({ result: Number(results[i]), graceLeftMs: op.graceLeftMs });
          }
        },
        (err) => {
          for (const op of batch) op.reject(err);
        },
      );
    }
  }

  return {
    add(
      kind: Op['kind'],
      connId: string,
      userId: string,
      graceMs: number,
    ): Promise<{ result: number; graceLeftMs: number }> {
      return new Promise((resolve, reject) => {
        const at = performance.now();
        pending.push({ kind, connId, userId, graceMs, at, graceLeftMs: graceMs, resolve, reject });
        if (scheduled) return;
        scheduled = true;
        afterSlice(flush);
      });
    },
    flush,
  };
}
