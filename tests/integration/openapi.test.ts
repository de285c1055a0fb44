import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { apiClient } from '../helpers/api';
import { createResponseChecker } from '../helpers/openapi-validate';
import { startTestServer } from '../helpers/server';

/**
 * The OpenAPI document is exact enough for the tools people point at it: swagger-parser,
 * Redocly's recommended rules and Spectral's `oas` ruleset find no error, and what it says
 * matches the README (paths, bodies, integers, security, headers, statuses).
 */

setDefaultTimeout(60_000);
const server = await startTestServer();
const api = apiClient(server.url);
const ROOT = join(import.meta.dir, '..', '..');

type Doc = any;
const fetchDoc = async (): Promise<Doc> => (await fetch(`${server.url}/swagger/json`)).json();

/** Run a linter CLI from node_modules/.bin on the document; its JSON report on stdout. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(args, {
    cwd: ROOT,
    stdout: 'pipe',
    stderr: 'pipe',
    // No telemetry or update checks: CI and this machine reach no one but the registry.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

describe('the document passes the tools', () => {
  let dir: string;
  let file: string;

  test('swagger-parser validates it (schema and every $ref)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hive-openapi-'));
    file = join(dir, 'openapi.json');
    const doc = await fetchDoc();
    await writeFile(file, JSON.stringify(doc, null, 2));
    await SwaggerParser.validate(structuredClone(doc));
  });

  test("Redocly's recommended rules report no error", async () => {
    const { stdout, stderr } = await runCli([
      join(ROOT, 'node_modules/.bin/redocly'),
      'lint',
      '--extends',
      'recommended',
      '--format',
      'json',
      file,
    ]);
    const report = JSON.parse(stdout) as { totals: { errors: number }; problems: { message: string }[] };
    expect(report.totals.errors, `${JSON.stringify(report.problems, null, 1)}\n${stderr}`).toBe(0);
  });

  test("Spectral's oas ruleset reports no error, and no warning but two explained ones", async () => {
    const ruleset = join(dir, 'spectral.yaml');
    await writeFile(ruleset, 'extends: ["spectral:oas"]\n');
    const { stdout, stderr } = await runCli([
      join(ROOT, 'node_modules/.bin/spectral'),
      'lint',
      '--ruleset',
      ruleset,
      '--format',
      'json',
      '--quiet',
      file,
    ]);
    const results = JSON.parse(stdout || '[]') as {
      severity: number;
      code: string;
      message: string;
      path: string[];
    }[];
    const errors = results.filter((r) => r.severity === 0);
    expect(errors, stderr).toEqual([]);
    // Warnings too, but two that are right as they are: no contact to publish, and `/ws`
    // succeeds with 101 Switching Protocols, which the rule does not count as success.
    const accepted = (r: (typeof results)[number]) =>
      r.code === 'info-contact' ||
      (r.code === 'operation-success-response' && r.path.join('.') === 'paths./ws.get.responses');
    expect(
      results.filter((r) => r.severity === 1 && !accepted(r)).map((r) => `${r.code} ${r.path.join('.')}`),
    ).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('what the document says', () => {
  test('resources are named components, referenced with $ref, without $id', async () => {
    const doc = await fetchDoc();
    for (const name of [
      'Task',
      'UserPrivate',
      'UserPublic',
      'Token',
      'DashboardSummary',
      'TrendPoint',
      'Error',
    ])
      expect(doc.components.schemas[name], name).toBeDefined();
    const text = JSON.stringify(doc);
    expect(text).not.toContain('"$id"');
    expect(doc.paths['/api/v1/tasks/{id}'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Task',
    });
    expect(doc.paths['/api/v1/tasks'].get.responses['200'].content['application/json'].schema).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/Task' },
    });
  });

  test('integers are integers: counts, expires_in, limit/offset/days', async () => {
    const doc = await fetchDoc();
    const { Token, DashboardSummary } = doc.components.schemas;
    expect(Token.properties.expires_in.type).toBe('integer');
    expect(DashboardSummary.properties.total_tasks.type).toBe('integer');
    expect(DashboardSummary.properties.tasks_by_status.properties.todo.type).toBe('integer');
    expect(DashboardSummary.properties.tasks_by_category.additionalProperties.type).toBe('integer');
    const param = (path: string, name: string) =>
      doc.paths[path].get.parameters.find((p: { name: string }) => p.name === name).schema;
    expect(param('/api/v1/tasks', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 500 });
    expect(param('/api/v1/users/online', 'offset')).toMatchObject({ type: 'integer', minimum: 0 });
    expect(param('/api/v1/dashboard/trends', 'days')).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 365,
    });
    // No "string or integer" left anywhere (Elysia's query coercion).
    expect(JSON.stringify(doc)).not.toContain('"format":"integer"');
  });

  test('paths exactly as the README writes them; no WebSocket method', async () => {
    const doc = await fetchDoc();
    for (const path of Object.keys(doc.paths)) expect(path === '/' || !path.endsWith('/'), path).toBe(true);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/auth/register',
        '/api/v1/auth/login',
        '/api/v1/users/me',
        '/api/v1/users/online',
        '/api/v1/tasks',
        '/api/v1/tasks/{id}',
        '/api/v1/dashboard/summary',
        '/api/v1/dashboard/trends',
        '/ws',
      ]),
    );
    expect(Object.keys(doc.paths['/ws'])).toEqual(['get']);
    expect(doc.info.description).toContain('/asyncapi.json');
  });

  test('request bodies have schemas and examples; login also takes the OAuth2 form', async () => {
    const doc = await fetchDoc();
    const bodies: [string, string, string][] = [
      ['/api/v1/auth/register', 'post', 'RegisterBody'],
      ['/api/v1/auth/login', 'post', 'LoginBody'],
      ['/api/v1/users/me', 'patch', 'UpdateMeBody'],
      ['/api/v1/tasks', 'post', 'CreateTaskBody'],
      ['/api/v1/tasks/{id}', 'patch', 'UpdateTaskBody'],
    ];
    for (const [path, method] of bodies) {
      const json = doc.paths[path][method].requestBody.content['application/json'];
      expect(json.schema.type, `${method} ${path}`).toBe('object');
      expect(json.example, `${method} ${path}`).toBeDefined();
    }
    expect(doc.paths['/api/v1/tasks'].post.requestBody.content['application/json'].schema.required).toEqual([
      'title',
    ]);
    const form =
      doc.paths['/api/v1/auth/login'].post.requestBody.content['application/x-www-form-urlencoded'];
    expect(Object.keys(form.schema.properties)).toEqual(expect.arrayContaining(['username', 'password']));
  });

  test('security: bearer and the OAuth2 password flow on protected routes, [] on public ones', async () => {
    const doc = await fetchDoc();
    const both = [{ bearerAuth: [] }, { oauth2: [] }];
    expect(doc.paths['/api/v1/users/me'].get.security).toEqual(both);
    expect(doc.paths['/api/v1/tasks'].post.security).toEqual(both);
    expect(doc.paths['/api/v1/tasks/{id}'].delete.security).toEqual(both);
    expect(doc.paths['/api/v1/auth/login'].post.security).toEqual([]);
    expect(doc.paths['/api/v1/dashboard/summary'].get.security).toEqual([]);
    expect(doc.components.securitySchemes.oauth2.flows.password.tokenUrl).toBe('/api/v1/auth/login');
  });

  test('statuses, headers and descriptions: 400/413/415 on body routes, 429, 503, 204/304 without a body', async () => {
    const doc = await fetchDoc();
    const login = doc.paths['/api/v1/auth/login'].post.responses;
    expect(Object.keys(login)).toEqual(['200', '400', '401', '413', '415', '422', '429', '503']);
    expect(login['429'].headers['Retry-After']).toBeDefined();
    expect(Object.keys(doc.paths['/api/v1/tasks'].post.responses)).toEqual(
      expect.arrayContaining(['201', '400', '401', '413', '415', '422', '503']),
    );
    expect(doc.paths['/api/v1/tasks'].post.responses['201'].headers.Location).toBeDefined();
    expect(doc.paths['/api/v1/tasks'].get.responses['200'].headers['X-Total-Count']).toBeDefined();
    expect(doc.paths['/api/v1/users/online'].get.responses['200'].headers['X-Total-Count']).toBeDefined();
    const summary = doc.paths['/api/v1/dashboard/summary'].get;
    expect(summary.responses['200'].headers.ETag).toBeDefined();
    expect(summary.responses['304'].headers['Cache-Control']).toBeDefined();
    expect(summary.responses['304'].content).toBeUndefined();
    expect(summary.parameters.map((p: { name: string }) => p.name)).toContain('If-None-Match');
    expect(doc.paths['/api/v1/tasks/{id}'].delete.responses['204'].content).toBeUndefined();
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Doc>))
      for (const [method, op] of Object.entries(methods as Record<string, Doc>))
        for (const [status, response] of Object.entries(op.responses as Record<string, Doc>)) {
          expect(response.description, `${method} ${path} ${status}`).not.toMatch(/^Response for status/);
          expect(response.headers['X-Request-Id'], `${method} ${path} ${status}`).toBeDefined();
        }
  });
});

describe('the documented errors are what the server answers', () => {
  test('malformed JSON is 400 invalid_body (validated against the document by the client)', async () => {
    const user = await api.newUser('Broken JSON');
    const res = await api.request('POST', '/api/v1/tasks', {
      token: user.token,
      headers: { 'content-type': 'application/json' },
      raw: '{"title": ',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_body');
  });

  test('the response checker rejects an answer the document does not allow', async () => {
    const checker = createResponseChecker(await fetchDoc());
    const headers = new Headers({ 'content-type': 'application/json', 'x-request-id': 'r1' });
    const url = `${server.url}/api/v1/dashboard/trends?days=2`;
    const good = [{ date: '2026-11-30', created: 1, completed: 0 }];
    expect(checker.check('GET', url, 200, headers, good)).toBeUndefined();
    expect(
      checker.check('GET', url, 200, headers, [{ date: '2026-11-30', created: '1', completed: 0 }]),
    ).toContain('must be integer');
    expect(checker.check('GET', url, 418, headers, good)).toContain('status not documented');
    const noId = new Headers({ 'content-type': 'application/json' });
    expect(checker.check('GET', url, 200, noId, good)).toContain('X-Request-Id');
    expect(checker.check('GET', `${server.url}/swagger`, 200, headers, 'html')).toBeUndefined();
  });
});
