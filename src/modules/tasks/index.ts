import { type DocumentDecoration, Elysia, t } from 'elysia';
import { docHeaders } from '../../http/openapi-vocabulary';
import { errors } from '../../lib/schemas';
import { Task } from '../../protocol/schemas';
import type { Feature, Runtime } from '../../runtime';
import { authPlugin } from '../auth/plugin';
import { CreateTaskBody, ListTasksQuery, TaskIdParams, UpdateTaskBody } from './model';

/**
 * What the OpenAPI document says about each route (src/http/openapi.ts adds the rest). Fresh
 * objects per call: Elysia merges the auth macro's `security` into a route's `detail` in
 * place, so a shared object would collect one copy per app built in the process.
 */
const taskDocs = () =>
  ({
    create: {
      operationId: 'createTask',
      summary: 'Create a task (created_by is the caller)',
      description:
        'Only `title` is required; status defaults to todo, priority to medium, category to general. `assignee_id` must name an existing user (else 422).',
      requestBody: {
        content: {
          'application/json': {
            example: {
              title: 'Write the release notes',
              priority: 'high',
              category: 'docs',
              due_date: '2026-12-01',
            },
          },
        },
      },
      responses: { 201: { description: 'The new task.', headers: docHeaders.location } },
    },
    list: {
      operationId: 'listTasks',
      summary: 'List tasks, newest first',
      description: 'Filters combine with AND. X-Total-Count holds the number matching, over all pages.',
      responses: { 200: { description: 'One page of matching tasks.', headers: docHeaders.totalCount } },
    },
    get: {
      operationId: 'getTask',
      summary: 'One task',
      description: 'Any signed-in user may read any task; an unknown or malformed id is 404.',
      responses: { 200: { description: 'The task.' } },
    },
    update: {
      operationId: 'updateTask',
      summary: 'Change any subset of a task’s fields',
      description: 'Entering `completed` sets completed_at; leaving it clears it.',
      requestBody: { content: { 'application/json': { example: { status: 'completed' } } } },
      responses: { 200: { description: 'The task after the change.' } },
    },
    remove: {
      operationId: 'deleteTask',
      summary: 'Delete a task (its creator or an admin)',
      description: 'Only its creator or an admin may delete a task; anyone signed in may change it.',
      responses: {
        204: { description: 'Deleted.' },
        403: { description: 'Only its creator or an admin may delete a task (`forbidden`).' },
      },
    },
  }) satisfies Record<string, DocumentDecoration>;

/** `/api/v1/tasks`: one shared team board; anyone signed in may create, read and update. */
export function createTasksFeature(rt: Pick<Runtime, 'tokens' | 'tasks'>) {
  const { tasks } = rt;
  const docs = taskDocs();
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
        response: { 201: Task, ...errors(401, 413, 422, 503) },
        detail: docs.create,
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
        response: { 200: t.Array(Task), ...errors(401, 422, 503) },
        detail: docs.list,
      },
    )
    .get('/:id', ({ params }) => tasks.get(params.id), {
      auth: true,
      params: TaskIdParams,
      response: { 200: Task, ...errors(401, 404, 503) },
      detail: docs.get,
    })
    .patch('/:id', ({ params, body }) => tasks.update(params.id, body), {
      auth: true,
      params: TaskIdParams,
      body: UpdateTaskBody,
      response: { 200: Task, ...errors(401, 404, 413, 422, 503) },
      detail: docs.update,
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
        response: { 204: t.Void(), ...errors(401, 403, 404, 503) },
        detail: docs.remove,
      },
    );
  return { name: 'tasks', routes } satisfies Feature;
}
