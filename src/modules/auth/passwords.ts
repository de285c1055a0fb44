import { createWorkGate } from '../../lib/work-gate';

/**
 * Every argon2 hash and verify of the process goes through this gate: one job per core at a
 * time, a short queue, 503 beyond it (see src/lib/work-gate.ts for why).
 */
const CORES = Math.max(1, navigator.hardwareConcurrency || 1);
export const passwordGate = createWorkGate(CORES, CORES * 8);

/**
 * argon2id at OWASP's recommended floor (Password Storage Cheat Sheet: 19 MiB, t=2, p=1).
 * Bun's default (64 MiB) measured 122 ms of a core per check here against 30 ms for this,
 * i.e. 4x the logins a core can serve, with the memory-hard guarantee OWASP asks for.
 * Each hash records its own parameters, so hashes made with other settings still verify.
 */
const ARGON2 = { algorithm: 'argon2id', memoryCost: 19_456, timeCost: 2 } as const;

export function hashPassword(password: string, signal?: AbortSignal): Promise<string> {
  return passwordGate.run(() => Bun.password.hash(password, ARGON2), signal);
}

/** False for a wrong password or an unreadable hash; never throws for those. */
export function verifyPassword(password: string, hash: string, signal?: AbortSignal): Promise<boolean> {
  return passwordGate.run(() => Bun.password.verify(password, hash).catch(() => false), signal);
}
