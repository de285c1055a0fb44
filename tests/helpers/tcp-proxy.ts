import { afterAll } from 'bun:test';
import type { Socket, TCPSocketListener } from 'bun';

/**
 * A loopback TCP proxy in front of PostgreSQL or Redis, to simulate an outage without
 * touching the shared server: `cut()` drops every connection and refuses new ones until
 * `restore()`.
 */
export interface TcpProxy {
  port: number;
  /** The target URL with host and port replaced by the proxy's. */
  url(targetUrl: string): string;
  cut(): void;
  restore(): void;
  close(): void;
}

interface Pair {
  client: Socket<Pair>;
  upstream?: Socket<{ pair: Pair }>;
  pending: Uint8Array[];
}

export function startTcpProxy(target: { host: string; port: number }): TcpProxy {
  let down = false;
  const pairs = new Set<Pair>();
  const listener: TCPSocketListener<Pair> = Bun.listen<Pair>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(client) {
        if (down) {
          client.end();
          return;
        }
        const pair: Pair = { client, pending: [] };
        client.data = pair;
        pairs.add(pair);
        Bun.connect<{ pair: Pair }>({
          hostname: target.host,
          port: target.port,
          data: { pair },
          socket: {
            open(up) {
              pair.upstream = up;
              for (const chunk of pair.pending) up.write(chunk);
              pair.pending = [];
            },
            data(_up, chunk) {
              pair.client.write(chunk);
            },
            close() {
              pair.client.end();
              pairs.delete(pair);
            },
            error() {
              pair.client.end();
            },
          },
        }).catch(() => client.end());
      },
      data(client, chunk) {
        const pair = client.data;
        if (pair.upstream) pair.upstream.write(chunk);
        else pair.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data?.upstream?.end();
        if (client.data) pairs.delete(client.data);
      },
      error(client) {
        client.data?.upstream?.end();
      },
    },
  });
  const proxy: TcpProxy = {
    port: listener.port,
    url(targetUrl) {
      const u = new URL(targetUrl);
      u.hostname = '127.0.0.1';
      u.port = String(listener.port);
      return u.toString();
    },
    cut() {
      down = true;
      for (const p of pairs) {
        p.client.terminate();
        p.upstream?.terminate();
      }
      pairs.clear();
    },
    restore() {
      down = false;
    },
    close() {
      proxy.cut();
      listener.stop(true);
    },
  };
  afterAll(() => proxy.close());
  return proxy;
}
