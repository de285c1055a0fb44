import { describe, expect, test } from 'bun:test';
import { BROADCAST_AT_ONCE_MAX, createSocketHub, type HubSocket } from '../../src/realtime/hub';
import { waitFor } from '../helpers/wait';

/**
 * Broadcasts to many sockets go out in slices: in order among themselves, and a presence batch
 * for everyone in order with the presence frames queued for each socket. One native publish to
 * 10,000 sockets wrote them all before the process did anything else: 80–230 ms without an
 * answer to `/health`, twice per storm (bench/RESULTS.md, round fourteen). These sockets are
 * the hub's own interface; what they count is what a client sees.
 */
function sockets(n: number, writeMs = 0) {
  const received = new Map<string, string[]>();
  const list: (HubSocket & { closed: boolean })[] = [];
  for (let i = 0; i < n; i++) {
    const connId = `c${i}`;
    received.set(connId, []);
    list.push({
      connId,
      userId: `u${i}`,
      closed: false,
      sendRaw(text) {
        const end = performance.now() + writeMs;
        while (performance.now() < end) {} // a write's cost, as a real socket's syscall has
        received.get(connId)!.push(text);
      },
      close() {},
    });
  }
  return { list, received };
}

describe('socket hub broadcasts', () => {
  test('a broadcast to many sockets lets a timer run before its last write', async () => {
    const hub = createSocketHub();
    // 0.1 ms per write: 60 ms for 600 sockets, written in one go before this change.
    const { list, received } = sockets(BROADCAST_AT_ONCE_MAX + 344, 0.1);
    for (const s of list) hub.add(s);
    const started = performance.now();
    let timerAt = 0;
    let writtenWhenTimerRan = 0;
    setTimeout(() => {
      timerAt = performance.now() - started;
      writtenWhenTimerRan = [...received.values()].filter((r) => r.length > 0).length;
    }, 1);
    hub.broadcastText('{"type":"presence_count"}');
    // What /metrics shows as hive_websocket_queued_writes{queue="broadcasts"}.
    expect(hub.writesWaiting()).toEqual({ frames: 0, broadcasts: list.length });
    await waitFor(() => [...received.values()].every((r) => r.length === 1), {
      what: 'every socket written',
    });
    expect(hub.writesWaiting()).toEqual({ frames: 0, broadcasts: 0 });
    expect(timerAt).toBeGreaterThan(0);
    expect(writtenWhenTimerRan).toBeLessThan(list.length);
    // Each socket got it once.
    expect([...received.values()].every((r) => r.length === 1 && r[0] === '{"type":"presence_count"}')).toBe(
      true,
    );
  });

  test('a presence batch for everyone stays in order with the frames queued for each socket', async () => {
    const hub = createSocketHub();
    const { list, received } = sockets(BROADCAST_AT_ONCE_MAX + 1);
    for (const s of list) hub.add(s);
    const first = list[0]!;
    const last = list[list.length - 1]!;
    // A batch big enough to be queued (as a storm's presence batch is), then a batch for
    // everyone, subscription answers for one socket, and another batch for everyone.
    hub.outbox.send(list.map((socket) => ({ socket, text: 'batch' })));
    hub.broadcastAfterFrames('everyone 1');
    hub.outbox.send(Array.from({ length: 64 }, () => ({ socket: last, text: 'answer' })));
    hub.broadcastAfterFrames('everyone 2');
    expect(hub.writesWaiting()).toEqual({ frames: 3 * list.length + 64, broadcasts: 0 });
    await waitFor(() => received.get(last.connId)!.includes('everyone 2'), { what: 'the second batch' });
    expect(received.get(first.connId)).toEqual(['batch', 'everyone 1', 'everyone 2']);
    expect(received.get(last.connId)).toEqual([
      'batch',
      'everyone 1',
      ...Array.from({ length: 64 }, () => 'answer'),
      'everyone 2',
    ]);
  });

  test('broadcasts keep their order; an answer for one socket does not wait behind them', async () => {
    const hub = createSocketHub();
    // 0.05 ms per write: each broadcast is 30 ms of writes, taken in slices.
    const { list, received } = sockets(BROADCAST_AT_ONCE_MAX + 344, 0.05);
    for (const s of list) hub.add(s);
    const last = list[list.length - 1]!;
    hub.broadcastText('count 1');
    hub.broadcastText('count 2');
    // A subscription answer: nothing is queued for single sockets, so it goes out now, not
    // after the 60 ms of broadcasts.
    hub.outbox.send([{ socket: last, text: 'answer' }]);
    await waitFor(() => received.get(last.connId)!.includes('count 2'), { what: 'the second broadcast' });
    expect(received.get(last.connId)).toEqual(['answer', 'count 1', 'count 2']);
    for (const s of list.slice(0, -1)) expect(received.get(s.connId)).toEqual(['count 1', 'count 2']);
  });

  test('a socket closed while a broadcast is queued is not written to', async () => {
    const hub = createSocketHub();
    const { list, received } = sockets(BROADCAST_AT_ONCE_MAX + 10);
    for (const s of list) hub.add(s);
    hub.broadcastText('summary');
    const gone = list[list.length - 1]!;
    gone.closed = true;
    hub.remove(gone.connId);
    await waitFor(() => received.get(list[0]!.connId)!.length === 1, { what: 'the broadcast' });
    await waitFor(() => !hub.outbox.busy(), { what: 'the outbox drained' });
    expect(received.get(gone.connId)).toEqual([]);
    expect(list.slice(0, -1).every((s) => received.get(s.connId)!.length === 1)).toBe(true);
  });

  test('task events that find the broadcasts behind are replaced by one resync, queued after them', async () => {
    // A queue of at most 600 writes: two task events to 300 sockets fill it.
    const hub = createSocketHub({ backlogMaxWrites: 600 });
    const { list, received } = sockets(300, 0.02);
    for (const s of list) hub.add(s);
    const task = (n: number) => ({ type: 'task_deleted' as const, data: { id: `t${n}` } });
    for (let n = 1; n <= 5; n++) hub.broadcast(task(n));
    // The count is coalesced by its feature and always goes out, after what is queued.
    hub.broadcast({ type: 'presence_count', data: { online: 300, mode: 'subscribed' } });
    const seen = (s: HubSocket) => received.get(s.connId)!.map((t) => JSON.parse(t));
    await waitFor(() => list.every((s) => seen(s).some((f) => f.type === 'resync')), { what: 'the resync' });
    for (const s of list)
      expect(seen(s)).toEqual([
        task(1),
        task(2),
        { type: 'presence_count', data: { online: 300, mode: 'subscribed' } },
        { type: 'resync', data: { topics: ['tasks'] } },
      ]);
    // Caught up: task events are queued again.
    hub.broadcast(task(6));
    await waitFor(() => list.every((s) => seen(s).length === 5), { what: 'the next task event' });
    expect(seen(list[0]!)[4]).toEqual(task(6));
  });

  test('broadcasts made while others are being written reach each socket not yet written in one write', async () => {
    const hub = createSocketHub();
    const { list, received } = sockets(BROADCAST_AT_ONCE_MAX + 344, 0.05);
    // Each write, as a real socket's corked write: one syscall for all its frames.
    const writes = new Map<string, number>();
    for (const s of list) {
      writes.set(s.connId, 0);
      hub.add({
        ...s,
        sendRaw(text) {
          writes.set(s.connId, writes.get(s.connId)! + 1);
          s.sendRaw(text);
        },
        sendRawMany(texts) {
          writes.set(s.connId, writes.get(s.connId)! + 1);
          for (const text of texts) received.get(s.connId)!.push(text);
        },
      });
    }
    // The count goes out; the summary comes 1 ms later, while the count is being written
    // (30 ms of writes), as the two do when they go out on the same beat.
    hub.broadcastText('count');
    await new Promise((resolve) => setTimeout(resolve, 1));
    hub.broadcastText('summary');
    expect(hub.writesWaiting().broadcasts).toBeLessThan(2 * list.length);
    await waitFor(() => [...received.values()].every((r) => r.length === 2), {
      what: 'both at every socket',
    });
    for (const s of list) expect(received.get(s.connId)).toEqual(['count', 'summary']);
    const total = [...writes.values()].reduce((a, b) => a + b, 0);
    // The sockets the first pass had not come to got both in one write.
    expect(total).toBeLessThan(1.5 * list.length);
    expect(writes.get(list[list.length - 1]!.connId)).toBe(1);
    expect(hub.writesWaiting()).toEqual({ frames: 0, broadcasts: 0 });
  });

  test('to few sockets with nothing queued, a broadcast is written at once', () => {
    const hub = createSocketHub();
    const { list, received } = sockets(3);
    for (const s of list) hub.add(s);
    hub.broadcastText('now');
    expect([...received.values()]).toEqual([['now'], ['now'], ['now']]);
  });
});
