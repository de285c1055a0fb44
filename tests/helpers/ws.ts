import { afterAll } from 'bun:test';
import { createHmac } from 'node:crypto';
import { waitFor } from './wait';

/** A frame as the server sends it. */
export interface Frame {
  type: string;
  /** Tests read whatever the frame carries. */
  data?: any;
  /**
   * Set on the `user_status_update` entries recorded for each user of a `presence_batch`
   * (right after the batch frame itself), so tests about one user's transitions read the same
   * whether the server sent them alone or batched.
   */
  via?: 'presence_batch';
}

/** A real WebSocket client (Bun's native one) that records every frame and its close. */
export interface TestSocket {
  ws: WebSocket;
  frames: Frame[];
  /** Set once the socket closed. */
  closed: { code: number; reason: string } | undefined;
  send(value: unknown): void;
  close(): Promise<void>;
  /** The first recorded frame matching `match` (including ones already received). */
  waitFrame(match: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  waitClosed(timeoutMs?: number): Promise<{ code: number; reason: string }>;
  statusFrames(userId: string): Frame[];
}

const opened: WebSocket[] = [];
afterAll(() => {
  for (const ws of opened) if (ws.readyState <= WebSocket.OPEN) ws.close();
});

export async function openSocket(wsUrl: string, token: string): Promise<TestSocket> {
  const ws = new WebSocket(`${wsUrl}/ws?token=${encodeURIComponent(token)}`);
  opened.push(ws);
  const socket: TestSocket = {
    ws,
    frames: [],
    closed: undefined,
    send: (value) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
    async close() {
      if (!socket.closed) ws.close(1000, 'bye');
      await socket.waitClosed();
    },
    waitFrame: (match, timeoutMs = 5_000) =>
      waitFor(() => socket.frames.find(match), { timeoutMs, what: 'a matching frame' }),
    waitClosed: (timeoutMs = 5_000) =>
      waitFor(() => socket.closed, { timeoutMs, what: 'the socket to close' }),
    statusFrames: (userId) =>
      socket.frames.filter((f) => f.type === 'user_status_update' && f.data?.user_id === userId),
  };
  ws.onmessage = (e) => {
    const frame: Frame = JSON.parse(String(e.data));
    socket.frames.push(frame);
    if (frame.type === 'presence_batch')
      for (const data of frame.data.users)
        socket.frames.push({ type: 'user_status_update', data, via: 'presence_batch' });
  };
  ws.onclose = (e) => {
    socket.closed = { code: e.code, reason: e.reason };
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('websocket did not open'));
  });
  return socket;
}

/** The HTTP answer to an upgrade request, read as a plain response (so a 401 body is visible). */
export async function upgradeAttempt(httpUrl: string, query: string) {
  const res = await fetch(`${httpUrl}/ws${query}`, {
    headers: {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': btoa(crypto.randomUUID().slice(0, 16)),
    },
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

/** An HS256 JWT with any payload and key: for expired, forged and malformed tokens. */
export function signJwt(payload: Record<string, unknown>, secret: string, alg = 'HS256'): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  if (alg === 'none') return `${head}.`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/**
 * Assert that `probe` stays truthy for the whole of `durationMs` (polled), e.g. "the user is
 * still online throughout the TTL while Redis is down". A condition over time, not a sleep.
 */
export async function expectHolds(
  probe: () => boolean | Promise<boolean>,
  durationMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    if (!(await probe())) throw new Error(`expected to hold for ${durationMs} ms: ${what}`);
    await Bun.sleep(25);
  }
}
