import postgres from 'postgres';

/** A throwaway database on a real PostgreSQL server (tests, benchmarks, the schema dump). */
export interface ScratchDatabase {
  name: string;
  /** `adminUrl` with this database's name. */
  url: string;
  /** `drop database … with (force)`: also ends sessions still connected to it. */
  drop(): Promise<void>;
}

/**
 * Create an empty database named `<prefix>_<time>_<random>` through `adminUrl` (any
 * database on the server, e.g. `postgres`). The prefix tells its owner: scratch databases
 * left behind by a killed process can be found and dropped by it.
 */
export async function createScratchDatabase(adminUrl: string, prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  // Identifiers cannot be bound parameters: keep the name to what needs no quoting.
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid scratch database prefix: ${prefix}`);
  await withAdmin(adminUrl, (admin) => admin.unsafe(`create database ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () => withAdmin(adminUrl, (admin) => admin.unsafe(`drop database if exists ${name} with (force)`)),
  };
}

async function withAdmin(adminUrl: string, run: (admin: postgres.Sql) => Promise<unknown>): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await run(admin);
  } finally {
    await admin.end();
  }
}
