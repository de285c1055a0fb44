import { expect, setDefaultTimeout, test } from 'bun:test';
import { treaty } from '@elysiajs/eden';
import type { App } from '../../src/server';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';

/**
 * The exported `App` type covers every route, so an @elysiajs/eden `treaty<App>()` client is
 * typed end to end, the dashboard and the WebSocket included. The types are checked by the
 * project's `tsc --noEmit` (`npm run typecheck`, in CI): the `@ts-expect-error` lines fail it
 * if a route's types ever degrade to `any`. The calls then run against a real server.
 */

setDefaultTimeout(60_000);
const server = await startTestServer();
const client = treaty<App>(server.url);

test('treaty<App>() types and calls the dashboard, tasks and users routes', async () => {
  const user = await apiClient(server.url).newUser('Eden User');
  const headers = { authorization: `Bearer ${user.token}` };

  const created = await client.api.v1.tasks.post(
    { title: 'Typed end to end', priority: 'urgent' },
    { headers },
  );
  expect(created.status).toBe(201);
  const taskId: string | undefined = created.data?.id;
  expect(taskId).toBeString();

  const summary = await client.api.v1.dashboard.summary.get({ query: { priority: 'urgent' } });
  const total: number | undefined = summary.data?.total_tasks;
  expect(total).toBe(1);
  const trends = await client.api.v1.dashboard.trends.get({ query: { days: 3 } });
  expect(trends.data?.map((p) => p.created).reduce((a, b) => a + b, 0)).toBe(1);
  const me = await client.api.v1.users.me.get({ headers });
  expect(me.data?.email).toBe(user.email);

  // @ts-expect-error: "done" is not a task status
  await client.api.v1.tasks.post({ title: 'x', status: 'done' }, { headers });
  // @ts-expect-error: days is a number
  await client.api.v1.dashboard.trends.get({ query: { days: 'three' } });
  // @ts-expect-error: no such route
  expect(client.api.v1.dashboard.nothing).toBeDefined(); // treaty builds any path at run time
});

test('treaty<App>() types the WebSocket too: ping gets pong', async () => {
  const user = await apiClient(server.url).newUser('Eden Socket');
  const socket = client.ws.subscribe({ query: { token: user.token } });
  const frames: unknown[] = [];
  socket.subscribe((message) => frames.push(message.data));
  await waitFor(() => socket.ws.readyState === WebSocket.OPEN || undefined, { what: 'the socket to open' });
  socket.send({ type: 'ping' });
  await waitFor(() => frames.find((f) => (f as { type?: string }).type === 'pong'), { what: 'a pong' });
  socket.close();
});
