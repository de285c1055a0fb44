/**
 * This instance's open WebSocket connections, keyed by connection id (not by socket
 * object), so bookkeeping survives Bun reusing wrappers and can be listed and closed.
 * Features push frames through `broadcast`; the WebSocket route registers sockets here.
 */
export interface Frame {
  type: string;
  data?: unknown;
}

export interface HubSocket {
  readonly connId: string;
  readonly userId: string;
  /** Send an already-serialised frame. */
  sendRaw(text: string): void;
  close(code: number, reason: string): void;
}

export interface SocketHub {
  add(socket: HubSocket): void;
  remove(connId: string): void;
  get(connId: string): HubSocket | undefined;
  /** Serialise once, send to every local socket. */
  broadcast(frame: Frame): void;
  size(): number;
  all(): IterableIterator<HubSocket>;
}

export function createSocketHub(): SocketHub {
  const sockets = new Map<string, HubSocket>();
  return {
    add: (s) => void sockets.set(s.connId, s),
    remove: (id) => void sockets.delete(id),
    get: (id) => sockets.get(id),
    broadcast(frame) {
      if (sockets.size === 0) return;
      const text = JSON.stringify(frame);
      for (const s of sockets.values()) s.sendRaw(text);
    },
    size: () => sockets.size,
    all: () => sockets.values(),
  };
}
