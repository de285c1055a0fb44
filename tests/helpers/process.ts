import { afterAll } from 'bun:test';
import type { Subprocess } from 'bun';
import { waitFor } from './wait';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface ServerProcess {
  url: string;
  wsUrl: string;
  proc: Subprocess;
  /** Everything the process has printed so far (JSON log lines). */
  output(): string;
  /** SIGTERM and wait for exit (graceful). */
  stop(): Promise<number>;
  /** SIGKILL: no cleanup at all, as in a crash. */
  kill9(): Promise<void>;
}

/**
 * Run `bun src/index.ts` as a separate process (for multi-instance, crash and shutdown
 * tests). The port comes from the "listening" log line, so PORT=0 works.
 */
export async function spawnServer(
  env: Record<string, string>,
  opts: { timeoutMs?: number } = {},
): Promise<ServerProcess> {
  const proc = Bun.spawn([process.execPath, 'src/index.ts'], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  let out = '';
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>)
      out += decoder.decode(chunk, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  let url: string;
  try {
    url = await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`);
        const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
        return line ? (JSON.parse(line).url as string) : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 30_000, what: 'server process to listen', intervalMs: 50 },
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${err}\n--- output ---\n${out}`);
  }
  const handle: ServerProcess = {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return proc.exited;
    },
    async kill9() {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await proc.exited;
    },
  };
  afterAll(() => handle.kill9());
  return handle;
}
