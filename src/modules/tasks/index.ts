import { Elysia, t } from 'elysia';
import { errors } from '../../lib/schemas';
import { Task } from '../../protocol/schemas';
import type { Feature, Runtime } from '../../runtime';
import { authPlugin } from '../auth/plugin';
import { CreateTaskBody, ListTasksQuery, TaskIdParams, UpdateTaskBody } from './model';

/** `/api/v1/tasks`: one shared team board; anyone signed in may create, read and update. */
export function createTasksFeature(rt: Pick<Runtime, 'tokens' | 'tasks'>) {
  const { tasks } = rt;
  const routes = new Elysia({ prefix: '/api/v1/tasks', tags: ['tasks'] })
    .use(authPlugin(rt.tokens))
    .post(
      '/',
      async ({ body, user, set }) => {
        const task = await tasks.create(body, user);
        set.status = 201;
        set.headers.location = `/api/v1/tasks/${task.id}`;
        return task;
      },
      {
        auth: true,
        body: CreateTaskBody,
        response: { 201: Task, ...errors(401, 413, 422) },
        detail: { summary: 'Create a task (created_by is the caller)' },
      },
    )
    .get(
      '/',
      async ({ query, set }) => {
        const { limit = 100, offset = 0, ...filters } = query;
        const { items, total } = await tasks.list(filters, limit, offset);
        set.headers['x-total-count'] = String(total);
        return items;
      },
      {
        auth: true,
        query: ListTasksQuery,
        response: { 200: t.Array(Task), ...errors(401, 422) },
        detail: { summary: 'List tasks, newest first; X-Total-Count holds the number matching' },
      },
    )
    .get('/:id', ({ params }) => tasks.get(params.id), {
      auth: true,
      params: TaskIdParams,
      response: { 200: Task, ...errors(401, 404) },
      detail: { summary: 'One task' },
    })
    .patch('/:id', ({ params, body }) => tasks.update(params.id, body), {
      auth: true,
      params: TaskIdParams,
      body: UpdateTaskBody,
      response: { 200: Task, ...errors(401, 404, 413, 422) },
      detail: { summary: 'Change any subset of a task’s fields' },
    })
    .delete(
      '/:id',
      async ({ params, user, set }) => {
        await tasks.remove(params.id, user);
        set.status = 204;
      },
      {
        auth: true,
        params: TaskIdParams,
        response: { 204: t.Void(), ...errors(401, 403, 404) },
        detail: { summary: 'Delete a task (its creator or an admin)' },
      },
    );
  return { name: 'tasks', routes } satisfies Feature;
}
