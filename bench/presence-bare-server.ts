/**
 * The connect-storm baseline: a bare Bun WebSocket server that accepts every upgrade and
 * does nothing else (and answers GET /health), run as its own process like the server under
 * test. Prints its port.
 */
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
console.log(JSON.stringify({ msg: 'listening', port: server.port }));
