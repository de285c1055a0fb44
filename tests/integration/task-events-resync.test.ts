import { describe, expect, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { REAL_STACK } from '../helpers/env';
import { startPairWithProxiedRedis } from '../helpers/server';
import { openSocket } from '../helpers/ws';

/**
 * Task events go from instance to instance over Redis pub/sub, which keeps nothing: what is
 * published while an instance cannot hear Redis never reaches its sockets. Such an instance
 * tells its sockets, once it hears the cluster again, that task events may be missing
 * (`resync`), so a client that keeps tasks re-reads them. B reaches Redis through a TCP proxy;
 * A directly.
 */
describe.skipIf(!REAL_STACK)('task events while an instance cannot hear the cluster', async () => {
  if (!REAL_STACK) return;
  const { proxy, a, b } = await startPairWithProxiedRedis();
  const api = apiClient(a.url);

  test('a socket on it is told to re-read tasks once it hears again, and the re-read has what it missed', async () => {
    const user = await api.newUser('Resync Watcher');
    const socket = await openSocket(b.wsUrl, user.token);
    const created = (title: string) => (f: { type: string; data?: any }) =>
      f.type === 'task_created' && f.data.task.title === title;

    // Heard as usual: a task created through A reaches the socket on B, and nothing says resync.
    await api.post('/api/v1/tasks', { title: 'Before the cut' }, user.token);
    await socket.waitFrame(created('Before the cut'));
    expect(socket.frames.filter((f) => f.type === 'resync')).toEqual([]);

    proxy.cut('refuse');
    const missed = await api.post('/api/v1/tasks', { title: 'While B was deaf' }, user.token);
    expect(missed.status).toBe(201);
    proxy.restore();

    const resync = await socket.waitFrame((f) => f.type === 'resync', 10_000);
    expect(resync.data).toEqual({ topics: ['tasks'] });
    // The event itself never came (pub/sub keeps nothing) …
    expect(socket.frames.some(created('While B was deaf'))).toBe(false);
    // … and the re-read the frame asks for, through B, has the task.
    const list = await apiClient(b.url).get('/api/v1/tasks', user.token);
    expect(list.body.map((t: { id: string }) => t.id)).toContain(missed.body.id);
    // Heard again afterwards.
    await api.post('/api/v1/tasks', { title: 'After the return' }, user.token);
    await socket.waitFrame(created('After the return'));
  }, 30_000);
});
