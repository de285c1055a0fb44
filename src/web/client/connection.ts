import type { ServerFrame } from '../../protocol/frames';
import { byId } from './dom';
import { LiveConnection, type LiveState, POLL_MS } from './live';

/**
 * How the page stays current, and the pill in the top bar that says so: signed in, the live
 * WebSocket; otherwise (or while it is down) polling every few seconds, paused in a hidden tab.
 */

export interface ConnectionHooks {
  frame(frame: ServerFrame): void;
  /** The socket (re)opened: catch up on what was missed while it was closed. */
  opened(): void;
  /** The server refused the socket before the upgrade (HTTP 401 is invisible to a browser). */
  refused(): Promise<'retry' | 'stop'>;
  /** The server closed the socket because the token is no longer good (4001, 4003). */
  signInNeeded(closeCode: number): void;
  /** A poll tick in a visible tab; `live` says whether the socket is open. */
  poll(live: boolean): void;
  signedIn(): boolean;
  unreachable(): boolean;
}

export interface PillInput {
  unreachable: boolean;
  liveOpen: boolean;
  signedIn: boolean;
  liveState: LiveState | undefined;
  attempt: number;
}

/** What the connection pill shows: `kind` is its colour (data-state), `text` its words. */
export function connectionPill(s: PillInput): { kind: string; text: string } {
  if (s.unreachable && !s.liveOpen) return { kind: 'down', text: 'Server unreachable · retrying' };
  if (s.signedIn && s.liveState === 'open') return { kind: 'live', text: 'Live' };
  if (s.signedIn && s.liveState === 'reconnecting') {
    return { kind: 'reconnecting', text: `Reconnecting…${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}` };
  }
  if (s.signedIn && s.liveState !== 'stopped') return { kind: 'connecting', text: 'Connecting…' };
  return { kind: 'polling', text: `Auto-refresh every ${POLL_MS / 1000} s` };
}

export class Connection {
  private live: LiveConnection | undefined;
  private liveState: LiveState | undefined;
  private attempt = 0;

  constructor(private readonly hooks: ConnectionHooks) {}

  get isOpen(): boolean {
    return this.live?.isOpen ?? false;
  }

  /** Poll until there is an open socket; a hidden tab does not poll and catches up when shown. */
  startPolling(): void {
    setInterval(() => {
      if (!document.hidden) this.hooks.poll(this.isOpen);
    }, POLL_MS);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && !this.isOpen) this.hooks.poll(false);
    });
  }

  connect(token: string): void {
    this.disconnect();
    this.live = new LiveConnection(token, {
      onFrame: (frame) => this.hooks.frame(frame),
      onState: (state, detail) => {
        this.liveState = state;
        this.attempt = detail.attempt;
        if (state === 'open') this.hooks.opened();
        this.render();
      },
      onRefused: () => this.hooks.refused(),
      onSignInNeeded: (code) => this.hooks.signInNeeded(code),
    });
    this.live.start();
  }

  disconnect(): void {
    this.live?.stop();
    this.live = undefined;
    this.liveState = undefined;
  }

  render(): void {
    const { kind, text } = connectionPill({
      unreachable: this.hooks.unreachable(),
      liveOpen: this.isOpen,
      signedIn: this.hooks.signedIn(),
      liveState: this.liveState,
      attempt: this.attempt,
    });
    byId('conn').dataset.state = kind;
    byId('conn-text').textContent = text;
  }
}
