import { connect, type Socket } from 'node:net';

/** What postgres.js passes to a custom `socket` function (README "Custom socket"). */
export interface SocketTarget {
  host: string[];
  port: number[];
  path?: string | false;
}

/**
 * The TCP (or Unix) sockets of one postgres.js client, created by us so that we can
 *
 * - turn "the peer accepted and closed without a word" into an error. postgres.js 3.4.9
 *   answers such a clean close during start-up by reconnecting at once, forever, leaving the
 *   waiting query pending (porsager/postgres#1193): behind a proxy, pooler or container port
 *   mapping whose PostgreSQL is down, every request would hang instead of failing. As an
 *   error, the waiting query rejects (CONNECTION_CLOSED) and the next query tries afresh;
 * - drop every connection at once (`destroyAll`) when the database is found unreachable: a
 *   black-holed or frozen connection never errors by itself (TCP keepalive sees the proxy or
 *   kernel answering), so without this, queries sent on it after the database returns would
 *   hang behind it. Destroying with an error rejects what was waiting on it and lets the pool
 *   open fresh connections on demand.
 */
export function createSocketFactory() {
  const live = new Set<Socket>();

  function open(target: SocketTarget): Socket {
    const socket = target.path ? connect(target.path) : connect(target.port[0]!, target.host[0]!);
    live.add(socket);
    socket.once('close', () => live.delete(socket));
    socket.once('end', () => {
      if (socket.bytesRead === 0) {
        socket.destroy(
          Object.assign(new Error('the database closed the connection before answering'), {
            code: 'CONNECTION_CLOSED',
          }),
        );
      }
    });
    return socket;
  }

  return {
    open,
    /** Destroy every open socket with `reason` (postgres.js rejects what waited on them). */
    destroyAll(reason: Error): number {
      const count = live.size;
      for (const socket of live) socket.destroy(reason);
      live.clear();
      return count;
    },
  };
}

export type SocketFactory = ReturnType<typeof createSocketFactory>;
