/**
 * The page's WebSocket: `/ws?token=…` (the only URL that ever carries the token), JSON
 * frames, a ping every 20 s, and after a close what the close code advises
 * (src/protocol/frames.ts `CloseCodes`): sign in again, stop, or reconnect with jittered
 * exponential backoff so a restarted server is not hit by every open tab in the same instant.
 */
import { afterClose, type ClientFrame, CloseCodes, type ServerFrame } from '../../protocol/frames';

/** How often the page polls the summary while it has no open socket. */
export const POLL_MS = 5_000;

/** `stopped`: the server closed the socket and advised not to reconnect. */
export type LiveState = 'connecting' | 'open' | 'reconnecting' | 'stopped';

export interface LiveHandlers {
  onFrame(frame: ServerFrame): void;
  onState(state: LiveState, detail: { attempt: number; retryInMs?: number }): void;
  /**
   * The socket closed without ever opening. The server refuses an expired or forged token
   * with 401 before the upgrade, which a browser cannot see: the handler finds out.
   */
  onRefused(): Promise<'retry' | 'stop'>;
  /** The server closed the socket because the token is no longer good (4001, 4003). */
  onSignInNeeded(closeCode: number): void;
}

const PING_EVERY_MS = 20_000;
/** No frame (not even a pong) for this long: the connection is dead even if the socket says open. */
const SILENCE_LIMIT_MS = 50_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15_000;

/** Full jitter between half and all of the exponential step. */
export function backoffDelay(attempt: number, random = Math.random): number {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 10));
  return Math.round(step / 2 + random() * (step / 2));
}

export class LiveConnection {
  private socket: WebSocket | undefined;
  private attempt = 0;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = 0;

  constructor(
    private readonly token: string,
    private readonly handlers: LiveHandlers,
  ) {}

  get isOpen(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(CloseCodes.normal.code, 'signed out');
  }

  private open(): void {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}`;
    this.handlers.onState(this.attempt === 0 ? 'connecting' : 'reconnecting', { attempt: this.attempt });
    let opened = false;
    const socket = new WebSocket(url);
    this.socket = socket;

    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.keepAlive(socket), PING_EVERY_MS);
      this.handlers.onState('open', { attempt: 0 });
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      this.lastFrameAt = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return; // not ours to interpret
      }
      if (frame && typeof frame.type === 'string' && frame.type !== 'pong') this.handlers.onFrame(frame);
    };
    // An error is always followed by close; the close handler decides what to do.
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      clearInterval(this.pingTimer);
      this.socket = undefined;
      if (this.stopped) return;
      void this.afterClose(opened, event.code);
    };
  }

  private async afterClose(wasOpen: boolean, code: number): Promise<void> {
    const advice = afterClose(code);
    if (advice !== 'reconnect') {
      this.stopped = true;
      if (advice === 'sign_in') this.handlers.onSignInNeeded(code);
      else this.handlers.onState('stopped', { attempt: this.attempt });
      return;
    }
    if (!wasOpen && (await this.handlers.onRefused()) === 'stop') {
      this.stopped = true;
      return;
    }
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.handlers.onState('reconnecting', { attempt: this.attempt, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
  }

  private keepAlive(socket: WebSocket): void {
    if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
      socket.close(CloseCodes.silent.code, CloseCodes.silent.reason);
      return;
    }
    if (socket.readyState === WebSocket.OPEN)
      socket.send(JSON.stringify({ type: 'ping' } satisfies ClientFrame));
  }
}
