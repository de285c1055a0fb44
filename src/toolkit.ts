/**
 * What benchmarks and repository scripts use from the server's code, in one place: they import
 * this module, never deep paths of src/, so moving a file inside src/ changes one line here.
 */

export { runMigrations } from './db/migrate';
export { createScratchDatabase, type ScratchDatabase } from './db/scratch';
export { createLogger, silentLogger } from './lib/logger';
export { hashPassword } from './modules/auth/passwords';
export { computeSummary } from './modules/dashboard/service';
export { TASK_PRIORITIES, TASK_STATUSES } from './protocol/schemas';
