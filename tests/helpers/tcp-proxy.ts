import { afterAll } from 'bun:test';
import type { Socket, TCPSocketListener } from 'bun';

/**
 * How an outage looks from the client's side:
 * - `refuse`: the port is closed (connections refused) and open connections are reset (RST);
 * - `accept-and-close`: open connections are closed cleanly (FIN, as by a server shutting
 *   down), new ones accepted and closed at once (a pooler, load balancer or container port
 *   mapping whose PostgreSQL is down);
 * - `black-hole`: nothing is answered any more, on open or new connections, which are
 *   accepted and then never forwarded, not even after `restore()` (a dead route, a lost
 *   NAT entry): only the client can notice, by a deadline;
 * - `freeze`: nothing moves but everything stays open; `restore()` delivers what waited,
 *   both ways (a stopped server or a partition that heals).
 */
export type OutageMode = 'refuse' | 'accept-and-close' | 'black-hole' | 'freeze';

/**
 * A loopback TCP proxy in front of PostgreSQL or Redis, to simulate an outage without
 * touching the shared server: `cut(mode)` starts one (default `accept-and-close`),
 * `restore()` ends it.
 */
export interface TcpProxy {
  port: number;
  /** The target URL with host and port replaced by the proxy's. */
  url(targetUrl: string): string;
  cut(mode?: OutageMode): void;
  restore(): void;
  close(): void;
}

interface Pair {
  client: Socket<Pair>;
  upstream?: Socket<{ pair: Pair }>;
  /** Bytes for upstream not yet written (connecting, or frozen). */
  toUpstream: Uint8Array[];
  /** Bytes for the client held back while frozen. */
  toClient: Uint8Array[];
  /** Black-holed: silent forever. */
  dead: boolean;
}

export function startTcpProxy(target: { host: string; port: number }): TcpProxy {
  let mode: OutageMode | undefined;
  let closed = false;
  const pairs = new Set<Pair>();

  function dial(pair: Pair) {
    Bun.connect<{ pair: Pair }>({
      hostname: target.host,
      port: target.port,
      data: { pair },
      socket: {
        open(up) {
          pair.upstream = up;
          if (mode !== 'freeze') flush(pair);
        },
        data(_up, chunk) {
          if (pair.dead) return;
          if (mode === 'freeze') pair.toClient.push(new Uint8Array(chunk));
          else pair.client.write(chunk);
        },
        close() {
          if (!pair.dead) pair.client.end();
          pairs.delete(pair);
        },
        error() {
          if (!pair.dead) pair.client.end();
        },
      },
    }).catch(() => pair.client.end());
  }

  function flush(pair: Pair) {
    if (pair.dead) return;
    if (pair.upstream) for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
    for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
  }

  const handlers = {
    open(client: Socket<Pair>) {
      if (mode === 'accept-and-close') return void client.end();
      const pair: Pair = { client, toUpstream: [], toClient: [], dead: mode === 'black-hole' };
      client.data = pair;
      pairs.add(pair);
      if (!pair.dead) dial(pair);
    },
    data(client: Socket<Pair>, chunk: Buffer) {
      const pair = client.data;
      if (pair.dead) return;
      if (pair.upstream && mode !== 'freeze') pair.upstream.write(chunk);
      else pair.toUpstream.push(new Uint8Array(chunk));
    },
    close(client: Socket<Pair>) {
      client.data?.upstream?.end();
      if (client.data) pairs.delete(client.data);
    },
    error(client: Socket<Pair>) {
      client.data?.upstream?.end();
    },
  };

  const listen = (port: number): TCPSocketListener<Pair> =>
    Bun.listen<Pair>({ hostname: '127.0.0.1', port, socket: handlers });
  let listener: TCPSocketListener<Pair> | undefined = listen(0);
  const port = listener.port;

  function dropAll(how: 'reset' | 'close') {
    for (const p of pairs) {
      if (how === 'reset') {
        p.client.terminate();
        p.upstream?.terminate();
      } else {
        p.client.end();
        p.upstream?.end();
      }
    }
    pairs.clear();
  }

  const proxy: TcpProxy = {
    port,
    url(targetUrl) {
      const u = new URL(targetUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut(outage = 'accept-and-close') {
      if (mode === 'refuse') proxy.restore();
      mode = outage;
      if (outage === 'refuse') {
        listener?.stop(true);
        listener = undefined;
      }
      if (outage === 'refuse') dropAll('reset');
      if (outage === 'accept-and-close') dropAll('close');
      if (outage === 'black-hole') for (const p of pairs) p.dead = true;
    },
    restore() {
      const was = mode;
      mode = undefined;
      if (was === 'refuse' && !closed) listener = listen(port);
      // Frozen bytes go out now (a pair still dialling flushes from its open()).
      for (const p of pairs) flush(p);
    },
    close() {
      closed = true;
      dropAll('reset');
      listener?.stop(true);
      listener = undefined;
    },
  };
  afterAll(() => proxy.close());
  return proxy;
}
