import { AppError, ServiceUnavailableError } from './errors';

/**
 * Bounds CPU-heavy work such as argon2id (19 MiB, ~30 ms of a core per hash on this machine, more under load). Without
 * a bound, a burst of logins queues hundreds of hashes: every login then waits seconds, the
 * clients time out, and the backlog keeps the CPU busy long after they left, starving every
 * other route. With it, at most `concurrency` jobs run, at most `maxWaiting` wait their turn,
 * anything beyond is refused at once with 503 (Retry-After), and a job whose client has gone
 * away by its turn is skipped.
 */
export interface WorkGate {
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Jobs running and waiting now (for tests and metrics). */
  load(): { running: number; waiting: number };
}

/** The client closed the connection before its turn; nobody will read this answer. */
export class ClientGoneError extends AppError {
  constructor() {
    super(499, 'client_closed_request', 'The client closed the connection before the work started.');
  }
}

export function createWorkGate(concurrency: number, maxWaiting: number, what = 'password hashing'): WorkGate {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(job, signal) {
      if (running < concurrency) {
        running += 1;
      } else {
        if (waiting.length >= maxWaiting) {
          throw new ServiceUnavailableError(what, 'The server is busy; try again in a moment.');
        }
        // The finishing job hands its slot straight to us (running stays the same).
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
      try {
        if (signal?.aborted) throw new ClientGoneError();
        return await job();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else running -= 1;
      }
    },
    load: () => ({ running, waiting: waiting.length }),
  };
}
