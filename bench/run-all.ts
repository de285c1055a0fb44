/**
 * `npm run bench`: every benchmark in bench/, one after another (they share a 2-core machine,
 * so never in parallel), then a summary of exit codes. Arguments go to each benchmark, e.g.
 * `npm run bench -- --write` to update bench/RESULTS.md.
 *
 * A benchmark is any bench/*.ts file except the helpers: seed.ts, run-all.ts and files named
 * `lib.ts`, `*-lib.ts` or `*-server.ts` (shared code and child processes that benchmarks start).
 * `--only <substring>` runs the matching ones alone.
 */
import { readdir } from 'node:fs/promises';

const HELPER = /^(lib|seed|run-all)\.ts$|-(lib|server)\.ts$/;
const dir = new URL('./', import.meta.url).pathname;
const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
const passThrough = onlyAt >= 0 ? args.filter((_, i) => i !== onlyAt && i !== onlyAt + 1) : args;

const benches = (await readdir(dir))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !HELPER.test(f))
  .filter((f) => !only || f.includes(only))
  .sort();
if (benches.length === 0) {
  console.error('no benchmarks matched');
  process.exit(1);
}

const results: { bench: string; code: number; seconds: number }[] = [];
for (const bench of benches) {
  console.error(`\n=== bench/${bench} ${passThrough.join(' ')} ===\n`);
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, `bench/${bench}`, ...passThrough], {
    cwd: new URL('../', import.meta.url).pathname,
    stdout: 'inherit',
    stderr: 'inherit',
  });
  const code = await proc.exited;
  results.push({ bench, code, seconds: Math.round((performance.now() - started) / 1000) });
}

console.error('\nbenchmarks:');
for (const r of results)
  console.error(`  ${r.code === 0 ? 'ok  ' : 'FAIL'} bench/${r.bench} (${r.seconds} s)`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
