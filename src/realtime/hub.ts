import { type CloseCode, encodeFrame, type ServerFrame } from '../protocol/frames';

/**
 * This instance's open WebSocket connections, keyed by connection id (not by socket
 * object), so bookkeeping survives Bun reusing wrappers and can be listed and closed.
 * Features push frames through `broadcast`; the WebSocket route registers sockets here.
 */

export interface HubSocket {
  readonly connId: string;
  readonly userId: string;
  /** token_version of the token it was opened with (src/modules/auth/sessions.ts closes it when stale). */
  readonly tokenVersion?: number;
  /** Send an already-serialised frame. */
  sendRaw(text: string): void;
  close(code: CloseCode): void;
}

export interface SocketHub {
  add(socket: HubSocket): void;
  remove(connId: string): void;
  /** Serialise once, send to every local socket. */
  broadcast(frame: ServerFrame): void;
  size(): number;
  all(): IterableIterator<HubSocket>;
  /**
   * Route `broadcast` through a native fan-out (Bun's `server.publish` to a topic every
   * socket subscribes to): one serialisation, one loop in uWebSockets instead of a send per
   * socket in JS, which matters when a connect storm makes every transition reach every socket.
   */
  useNativeBroadcast(publish: ((text: string) => void) | undefined): void;
}

export function createSocketHub(): SocketHub {
  const sockets = new Map<string, HubSocket>();
  let nativePublish: ((text: string) => void) | undefined;
  return {
    add: (s) => void sockets.set(s.connId, s),
    remove: (id) => void sockets.delete(id),
    broadcast(frame) {
      if (sockets.size === 0) return;
      const text = encodeFrame(frame);
      if (nativePublish) nativePublish(text);
      else for (const s of sockets.values()) s.sendRaw(text);
    },
    size: () => sockets.size,
    all: () => sockets.values(),
    useNativeBroadcast(publish) {
      nativePublish = publish;
    },
  };
}
