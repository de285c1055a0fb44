/**
 * Records when each user's row is first seen committed with is_online = true, polling every
 * 2 ms from its own process: the load generator's event loop is busy receiving the storm's
 * frames, and polling from there would report its own lag as the server's.
 *   bun bench/presence-poller.ts <database-url> <expected-rows> <out.json>
 * Times are wall-clock milliseconds (timeOrigin + now), comparable across processes.
 */
import { writeFileSync } from 'node:fs';
import postgres from 'postgres';

const [url, expectedRaw, outPath] = process.argv.slice(2);
const expected = Number(expectedRaw);
const sql = postgres(url!, { max: 1, onnotice: () => {} });
const seenAt: Record<string, number> = {};
let seen = 0;
const deadline = Date.now() + 180_000;
console.log(JSON.stringify({ msg: 'listening', port: 0 }));
while (seen < expected && Date.now() < deadline) {
  try {
    const rows = await sql<{ id: string }[]>`select id from users where is_online`;
    const now = performance.timeOrigin + performance.now();
    for (const r of rows) {
      if (seenAt[r.id] === undefined) {
        seenAt[r.id] = now;
        seen += 1;
      }
    }
  } catch (err) {
    console.error('poll failed; retrying', String(err));
  }
  await Bun.sleep(2);
}
writeFileSync(outPath!, JSON.stringify(seenAt));
await sql.end();
process.exit(0);
