import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { CLIENT_FRAME_TYPES, CloseCodes, SERVER_FRAME_TYPES, WS_LIMITS } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { type Frame, openSocket } from '../helpers/ws';

/**
 * The WebSocket has a machine-readable description: an AsyncAPI 3 document at /asyncapi.json
 * that @asyncapi/parser accepts, lists every frame of src/protocol/frames.ts with a payload
 * schema that real frames satisfy, shares the OpenAPI component schemas, and names the close
 * codes and limits. And a plain GET /ws answers what the README says.
 */

setDefaultTimeout(60_000);
const server = await startTestServer();
const api = apiClient(server.url);

type Doc = any;
const getJson = async (path: string): Promise<Doc> => (await fetch(`${server.url}${path}`)).json();

describe('the AsyncAPI document', () => {
  test('@asyncapi/parser parses it with no error', async () => {
    const text = await (await fetch(`${server.url}/asyncapi.json`)).text();
    const { document, diagnostics } = await new Parser().parse(text);
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
    expect(errors.map((d) => `${d.code}: ${d.message} at ${d.path.join('/')}`)).toEqual([]);
    expect(document?.version()).toBe('3.0.0');
    expect(document?.channels().get('socket')?.address()).toBe('/ws');
  });

  test('every frame in both directions, with its payload schema; the token; close codes; limits', async () => {
    const doc = await getJson('/asyncapi.json');
    for (const type of SERVER_FRAME_TYPES) expect(doc.operations[`send_${type}`]?.action, type).toBe('send');
    for (const type of CLIENT_FRAME_TYPES)
      expect(doc.operations[`receive_${type}`]?.action, type).toBe('receive');
    expect(Object.keys(doc.components.messages).sort()).toEqual(
      [...SERVER_FRAME_TYPES, ...CLIENT_FRAME_TYPES].sort(),
    );
    expect(doc.components.messages.task_created.payload.properties.data.properties.task).toEqual({
      $ref: '#/components/schemas/Task',
    });
    expect(doc.components.securitySchemes.accessToken).toMatchObject({
      type: 'httpApiKey',
      in: 'query',
      name: 'token',
    });
    for (const close of Object.values(CloseCodes))
      expect(doc.info.description).toContain(`| ${close.code} |`);
    expect(doc.info.description).toContain(`${WS_LIMITS.maxFrameBytes} bytes`);
    expect(doc.servers.hive.host).toBe(new URL(server.url).host);
  });

  test('it shares the OpenAPI component schemas, and both documents link to each other', async () => {
    const [asyncapi, openapi] = await Promise.all([getJson('/asyncapi.json'), getJson('/swagger/json')]);
    const shared = Object.keys(asyncapi.components.schemas).filter(
      (name) => name in openapi.components.schemas,
    );
    expect(shared).toEqual(expect.arrayContaining(['Task', 'DashboardSummary']));
    for (const name of shared)
      expect(asyncapi.components.schemas[name], name).toEqual(openapi.components.schemas[name]);
    expect(openapi.info.description).toContain('/asyncapi.json');
    expect(asyncapi.info.description).toContain('/swagger/json');
    const readme = await Bun.file(join(import.meta.dir, '..', '..', 'README.md')).text();
    expect(readme.includes('/asyncapi.json'), 'README links the AsyncAPI document').toBe(true);
  });

  /** Checks a frame against its message's payload schema in the served document. */
  async function frameChecker() {
    const doc = await getJson('/asyncapi.json');
    const ajv = new Ajv2020({ allErrors: true, strictTypes: false });
    addFormats(ajv);
    ajv.addVocabulary([
      'asyncapi',
      'info',
      'defaultContentType',
      'servers',
      'channels',
      'operations',
      'components',
    ]);
    ajv.addSchema({ ...doc, $id: 'hive-asyncapi' });
    const validators: Record<string, ValidateFunction> = {};
    const check = (frame: Frame) => {
      validators[frame.type] ??= ajv.getSchema(`hive-asyncapi#/components/messages/${frame.type}/payload`)!;
      const validate = validators[frame.type]!;
      expect(validate(frame), `${frame.type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    };
    return { doc, check };
  }

  test('every message example matches its own payload schema', async () => {
    const { doc, check } = await frameChecker();
    for (const message of Object.values(doc.components.messages as Record<string, Doc>))
      check(message.examples[0].payload);
  });

  test('real frames of every kind match their message schema', async () => {
    const { check } = await frameChecker();
    const alice = await api.newUser('Alice Frames');
    const bob = await api.newUser('Bob Frames');
    const socket = await openSocket(server.wsUrl, alice.token);
    const bobSocket = await openSocket(server.wsUrl, bob.token);
    socket.send({ type: 'ping' });
    socket.send({ type: 'nonsense' });
    socket.send('not json');
    const task = await api.post('/api/v1/tasks', { title: 'Framed' }, alice.token);
    await api.patch(`/api/v1/tasks/${task.body.id}`, { status: 'completed' }, alice.token);
    await api.delete(`/api/v1/tasks/${task.body.id}`, alice.token);
    await bobSocket.close();
    // Every frame type this session can cause; frames that need more (a large team, a
    // subscription) have their payload schemas checked against their types by the compiler.
    const expected = [
      'pong',
      'error',
      'task_created',
      'task_updated',
      'task_deleted',
      'user_status_update',
      'dashboard_summary',
    ];
    for (const type of expected) await socket.waitFrame((f) => f.type === type);
    for (const frame of socket.frames) check(frame);
    expect([...new Set(socket.frames.map((f) => f.type))]).toEqual(expect.arrayContaining(expected));
    await socket.close();
  });
});

describe('a plain GET /ws', () => {
  test('no token or a bad one: 401 in the contract format; a good one: 426 Upgrade Required', async () => {
    const user = await api.newUser('Plain Get');
    const missing = await api.get('/ws');
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('unauthorized');
    const forged = await api.get('/ws?token=not-a-token');
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('invalid_token');
    const good = await api.get(`/ws?token=${user.token}`);
    expect(good.status).toBe(426);
    expect(good.headers.get('upgrade')).toBe('websocket');
    expect(good.body.error.code).toBe('upgrade_required');
  });
});
