/** `npm run migrate`: apply pending migrations to DATABASE_URL (or the embedded database). */
import { loadConfig } from '../config';
import { openDatabase } from '../db/bootstrap';
import { createLogger } from '../lib/logger';

const config = loadConfig();
const log = createLogger(config.logLevel, { component: 'migrate' });
const db = await openDatabase(config, log);
await db.stop();
log.info('database is up to date');
