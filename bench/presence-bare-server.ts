/**
 * The connect-storm baseline: a bare Bun WebSocket server that accepts every upgrade and
 * does nothing else (and answers GET /health), run as its own process like the server under
 * test. Its accept queue is BARE_BACKLOG (as HIVE's LISTEN_BACKLOG), 512 (Bun's own) when
 * unset. Prints its port.
 */
import { raiseListenBacklog } from '../src/lib/listen-backlog';

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch(req, srv) {
    if (new URL(req.url).pathname === '/health') return Response.json({ status: 'ok' });
    if (srv.upgrade(req)) return undefined;
    return new Response('upgrade required', { status: 426 });
  },
  websocket: {
    maxPayloadLength: 64 * 1024,
    perMessageDeflate: false,
    message() {},
  },
});
const backlog = Number(process.env.BARE_BACKLOG ?? 512);
if (backlog !== 512) {
  const outcome = await raiseListenBacklog(server.port!, backlog);
  if (!outcome.applied) throw new Error(`BARE_BACKLOG=${backlog} not applied: ${outcome.reason}`);
}
console.log(JSON.stringify({ msg: 'listening', port: server.port, backlog }));
