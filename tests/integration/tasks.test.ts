import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';

// Logins cost an argon2id verify each; on a loaded machine a test with several exceeds 5 s.
setDefaultTimeout(30_000);

const server = await startTestServer();
const api = apiClient(server.url);
const errorShape = (code: string) => ({
  error: expect.objectContaining({ code, message: expect.any(String) }),
});

type User = Awaited<ReturnType<typeof api.newUser>>;
let alice: User;
let bob: User;
let admin: User;
beforeAll(async () => {
  alice = await api.newUser('Alice');
  bob = await api.newUser('Bob');
  admin = await api.newUser('Ada Admin');
  // There is no API to make an admin (by design): an operator does it in SQL. Log in again
  // so the token carries the role.
  await server.sql`update users set role = 'admin' where id = ${admin.id}`;
  const login = await api.post('/api/v1/auth/login', { email: admin.email, password: admin.password });
  admin.token = login.body.access_token;
});

const create = (body: Record<string, unknown>, token = alice.token) => api.post('/api/v1/tasks', body, token);

describe('POST /api/v1/tasks', () => {
  test('creates a task with defaults; created_by is the caller', async () => {
    const res = await create({ title: 'Write the docs' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      title: 'Write the docs',
      description: null,
      status: 'todo',
      priority: 'medium',
      category: 'general',
      assignee_id: null,
      created_by: alice.id,
      due_date: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      completed_at: null,
    });
    expect(res.headers.get('location')).toBe(`/api/v1/tasks/${res.body.id}`);
  });

  test('takes every optional field; a due date may be a date or a date-time', async () => {
    const res = await create({
      title: 'Ship it',
      description: 'all of it',
      status: 'in_progress',
      priority: 'urgent',
      category: 'backend',
      assignee_id: bob.id,
      due_date: '2030-05-01',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      description: 'all of it',
      status: 'in_progress',
      priority: 'urgent',
      category: 'backend',
      assignee_id: bob.id,
      due_date: '2030-05-01T00:00:00.000Z',
    });
    const dt = await create({ title: 'Timed', due_date: '2030-05-01T12:30:00Z' });
    expect(dt.body.due_date).toBe('2030-05-01T12:30:00.000Z');
  });

  test('a task created as completed has completed_at', async () => {
    const res = await create({ title: 'Done already', status: 'completed' });
    expect(res.status).toBe(201);
    expect(res.body.completed_at).toEqual(expect.any(String));
  });

  test('an assignee that does not exist is 422', async () => {
    const res = await create({ title: 'Orphan', assignee_id: crypto.randomUUID() });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(errorShape('validation_error'));
  });

  test.each([
    ['no title', {}],
    ['empty title', { title: '' }],
    ['blank title', { title: '   ' }],
    ['title over 200 chars', { title: 'x'.repeat(201) }],
    ['unknown status', { title: 'x', status: 'done' }],
    ['unknown priority', { title: 'x', priority: 'critical' }],
    ['empty category', { title: 'x', category: '' }],
    ['category over 50 chars', { title: 'x', category: 'c'.repeat(51) }],
    ['malformed assignee_id', { title: 'x', assignee_id: 'not-a-uuid' }],
    ['malformed due_date', { title: 'x', due_date: 'tomorrow' }],
    ['impossible due_date', { title: 'x', due_date: '2030-02-31' }],
    ['title of the wrong type', { title: 123 }],
  ])('422 for %s', async (_label, body) => {
    const res = await create(body);
    expect(res.status).toBe(422);
    expect(res.body).toEqual(errorShape('validation_error'));
  });

  test('401 without a token', async () => {
    const res = await api.post('/api/v1/tasks', { title: 'x' });
    expect(res.status).toBe(401);
  });
});

describe('GET /api/v1/tasks/:id and PATCH', () => {
  test('get answers the task; unknown and malformed ids are 404', async () => {
    const t = (await create({ title: 'Findable' })).body;
    const res = await api.get(`/api/v1/tasks/${t.id}`, bob.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(t);
    for (const id of [crypto.randomUUID(), 'not-a-uuid', '123', 'x'.repeat(300)]) {
      const missing = await api.get(`/api/v1/tasks/${id}`, bob.token);
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual(errorShape('not_found'));
    }
  });

  test('any member may update any task; only the given fields change; updated_at moves', async () => {
    const t = (await create({ title: 'Patch me', priority: 'low', category: 'ops' })).body;
    const res = await api.patch(`/api/v1/tasks/${t.id}`, { priority: 'high' }, bob.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...t, priority: 'high', updated_at: expect.any(String) });
    expect(Date.parse(res.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(t.updated_at));
  });

  test('completed_at is set on entering completed, kept while completed, cleared on leaving', async () => {
    const t = (await create({ title: 'Lifecycle' })).body;
    const done = await api.patch(`/api/v1/tasks/${t.id}`, { status: 'completed' }, alice.token);
    expect(done.body.completed_at).toEqual(expect.any(String));
    const renamed = await api.patch(`/api/v1/tasks/${t.id}`, { title: 'Lifecycle 2' }, alice.token);
    expect(renamed.body.completed_at).toBe(done.body.completed_at);
    const reopened = await api.patch(`/api/v1/tasks/${t.id}`, { status: 'review' }, alice.token);
    expect(reopened.body.status).toBe('review');
    expect(reopened.body.completed_at).toBeNull();
  });

  test('nullable fields can be cleared with null; description, assignee and due date', async () => {
    const t = (
      await create({ title: 'Clear me', description: 'd', assignee_id: bob.id, due_date: '2031-01-01' })
    ).body;
    const res = await api.patch(
      `/api/v1/tasks/${t.id}`,
      { description: null, assignee_id: null, due_date: null },
      alice.token,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ description: null, assignee_id: null, due_date: null });
  });

  test('an empty patch answers the task unchanged', async () => {
    const t = (await create({ title: 'Untouched' })).body;
    const res = await api.patch(`/api/v1/tasks/${t.id}`, {}, alice.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(t);
  });

  test('bad inputs: 422 for a bad field or missing assignee, 404 for unknown or malformed ids', async () => {
    const t = (await create({ title: 'Guarded' })).body;
    const badStatus = await api.patch(`/api/v1/tasks/${t.id}`, { status: 'nope' }, alice.token);
    expect(badStatus.status).toBe(422);
    const ghost = await api.patch(`/api/v1/tasks/${t.id}`, { assignee_id: crypto.randomUUID() }, alice.token);
    expect(ghost.status).toBe(422);
    expect(ghost.body).toEqual(errorShape('validation_error'));
    expect((await api.patch(`/api/v1/tasks/${t.id}`, { title: '' }, alice.token)).status).toBe(422);
    for (const id of [crypto.randomUUID(), 'nope']) {
      const res = await api.patch(`/api/v1/tasks/${id}`, { title: 'x' }, alice.token);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(errorShape('not_found'));
    }
    // The failed patches changed nothing.
    expect((await api.get(`/api/v1/tasks/${t.id}`, alice.token)).body).toEqual(t);
  });
});

describe('DELETE /api/v1/tasks/:id', () => {
  test('the creator may delete: 204, then 404', async () => {
    const t = (await create({ title: 'Mine' })).body;
    const res = await api.delete(`/api/v1/tasks/${t.id}`, alice.token);
    expect(res.status).toBe(204);
    expect(res.body).toBe('');
    expect((await api.get(`/api/v1/tasks/${t.id}`, alice.token)).status).toBe(404);
    expect((await api.delete(`/api/v1/tasks/${t.id}`, alice.token)).status).toBe(404);
  });

  test('another member gets 403 and the task stays; an admin may delete it', async () => {
    const t = (await create({ title: 'Not yours' })).body;
    const denied = await api.delete(`/api/v1/tasks/${t.id}`, bob.token);
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual(errorShape('forbidden'));
    expect((await api.get(`/api/v1/tasks/${t.id}`, bob.token)).status).toBe(200);
    expect((await api.delete(`/api/v1/tasks/${t.id}`, admin.token)).status).toBe(204);
    expect((await api.get(`/api/v1/tasks/${t.id}`, bob.token)).status).toBe(404);
  });

  test('unknown and malformed ids are 404; no token is 401', async () => {
    expect((await api.delete(`/api/v1/tasks/${crypto.randomUUID()}`, alice.token)).status).toBe(404);
    expect((await api.delete('/api/v1/tasks/garbage', alice.token)).status).toBe(404);
    expect((await api.delete(`/api/v1/tasks/${crypto.randomUUID()}`)).status).toBe(401);
  });
});

describe('GET /api/v1/tasks (list)', async () => {
  // A board of our own in a category nobody else uses, so counts are exact.
  const cat = `list-${crypto.randomUUID().slice(0, 8)}`;
  let made: { id: string; status: string; priority: string; assignee_id: string | null }[] = [];
  beforeAll(async () => {
    const specs = [
      { status: 'todo', priority: 'low', assignee_id: bob.id },
      { status: 'todo', priority: 'high', assignee_id: null },
      { status: 'in_progress', priority: 'high', assignee_id: bob.id },
      { status: 'review', priority: 'urgent', assignee_id: alice.id },
      { status: 'completed', priority: 'medium', assignee_id: bob.id },
      { status: 'cancelled', priority: 'low', assignee_id: null },
      { status: 'todo', priority: 'medium', assignee_id: alice.id },
    ];
    made = [];
    for (const [i, s] of specs.entries()) {
      made.push((await create({ title: `List ${i}`, category: cat, ...s })).body);
    }
  });

  const list = (q: string) => api.get(`/api/v1/tasks?category=${cat}${q ? `&${q}` : ''}`, bob.token);

  test('newest first, with X-Total-Count', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-total-count')).toBe('7');
    expect(res.body.map((t: { id: string }) => t.id)).toEqual([...made].reverse().map((t) => t.id));
  });

  test.each([
    ['status=todo', (t: (typeof made)[0]) => t.status === 'todo'],
    ['priority=high', (t: (typeof made)[0]) => t.priority === 'high'],
    ['status=todo&priority=low', (t: (typeof made)[0]) => t.status === 'todo' && t.priority === 'low'],
  ])('filter %s', async (q, keep) => {
    const res = await list(q);
    const expected = made.filter(keep).map((t) => t.id);
    expect(res.body.map((t: { id: string }) => t.id).sort()).toEqual(expected.sort());
    expect(res.headers.get('x-total-count')).toBe(String(expected.length));
  });

  test('filter by assignee_id', async () => {
    const res = await list(`assignee_id=${bob.id}`);
    const expected = made.filter((t) => t.assignee_id === bob.id).map((t) => t.id);
    expect(res.body.map((t: { id: string }) => t.id).sort()).toEqual(expected.sort());
    expect(res.headers.get('x-total-count')).toBe(String(expected.length));
  });

  test('limit and offset page through the list; X-Total-Count is the full match count', async () => {
    const all = (await list('')).body.map((t: { id: string }) => t.id);
    const p1 = await list('limit=3&offset=0');
    const p2 = await list('limit=3&offset=3');
    const p3 = await list('limit=3&offset=6');
    expect(p1.body.length).toBe(3);
    expect([...p1.body, ...p2.body, ...p3.body].map((t: { id: string }) => t.id)).toEqual(all);
    expect(p3.headers.get('x-total-count')).toBe('7');
    const beyond = await list('offset=100');
    expect(beyond.status).toBe(200);
    expect(beyond.body).toEqual([]);
    expect(beyond.headers.get('x-total-count')).toBe('7');
  });

  test('a filter nothing matches gives [] and 0', async () => {
    const res = await api.get(`/api/v1/tasks?category=nothing-${crypto.randomUUID().slice(0, 8)}`, bob.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
    expect(res.headers.get('x-total-count')).toBe('0');
  });

  test.each([
    'status=done',
    'priority=critical',
    'limit=0',
    'limit=501',
    'limit=ten',
    'offset=-1',
    'assignee_id=not-a-uuid',
    `category=${'c'.repeat(51)}`,
  ])('422 for ?%s', async (q) => {
    const res = await api.get(`/api/v1/tasks?${q}`, bob.token);
    expect(res.status).toBe(422);
    expect(res.body).toEqual(errorShape('validation_error'));
  });
});

describe('tasks written in SQL follow the same rules (psql users)', () => {
  test('INSERT with only title/status/priority/category works and completed_at is kept by the trigger', async () => {
    const [row] = await server.sql`
      insert into tasks (title, status, priority, category) values ('From psql', 'completed', 'low', 'ops')
      returning id, completed_at, created_by`;
    expect(row!.completed_at).toBeInstanceOf(Date);
    const res = await api.get(`/api/v1/tasks/${row!.id}`, alice.token);
    expect(res.status).toBe(200);
    expect(res.body.created_by).toBeNull();
    // A task nobody created: only an admin may delete it.
    expect((await api.delete(`/api/v1/tasks/${row!.id}`, alice.token)).status).toBe(403);
    expect((await api.delete(`/api/v1/tasks/${row!.id}`, admin.token)).status).toBe(204);
  });
});
