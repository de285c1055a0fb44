/** `npm start`: read the environment, start the server, stop gracefully on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config';
import { createLogger } from './lib/logger';
import { startServer } from './server';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`hive: invalid configuration: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

const log = createLogger(config.logLevel);
const server = await startServer(config, { log }).catch((err) => {
  log.error('start-up failed', { err, stack: err instanceof Error ? err.stack : undefined });
  process.exit(1);
});

let signals = 0;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    signals += 1;
    if (signals > 1) process.exit(130); // a second Ctrl-C means "now"
    log.info('signal received', { signal });
    const force = setTimeout(() => {
      log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, 15_000);
    server.stop().then(() => {
      clearTimeout(force);
      process.exit(0);
    });
  });
}
