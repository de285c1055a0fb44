import { describe, expect, test } from 'bun:test';
import { createLogger } from '../../src/lib/logger';

describe('logger', () => {
  test('one JSON object per line with time, level, message, bound and given fields', () => {
    const lines: string[] = [];
    const log = createLogger('info', { service: 'hive' }, (l) => lines.push(l)).child({ instance: 'i1' });
    log.info('request', { status: 200 });
    expect(lines).toHaveLength(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toEqual({
      time: expect.any(String),
      level: 'info',
      msg: 'request',
      service: 'hive',
      instance: 'i1',
      status: 200,
    });
  });

  test('drops records below the level', () => {
    const lines: string[] = [];
    const log = createLogger('warn', {}, (l) => lines.push(l));
    log.debug('x');
    log.info('y');
    log.warn('z');
    log.error('w');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['z', 'w']);
    expect(log.isLevelEnabled('info')).toBe(false);
  });

  test('errors are serialised as name, message and code (no circular structures, no throw)', () => {
    const lines: string[] = [];
    const log = createLogger('info', {}, (l) => lines.push(l));
    const err = Object.assign(new Error('boom'), { code: 'E1' });
    log.error('failed', { err });
    expect(JSON.parse(lines[0]!).err).toEqual({ name: 'Error', message: 'boom', code: 'E1' });
  });

  test('a field that cannot be serialised does not crash the caller', () => {
    const lines: string[] = [];
    const log = createLogger('info', {}, (l) => lines.push(l));
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => log.info('odd', { circular, big: 10n })).not.toThrow();
    expect(lines).toHaveLength(1);
  });

  test('stdout: lines written in one turn all arrive, in order, even when the process exits right after', async () => {
    // The default sink writes once per event-loop turn; what is held at exit must still be written.
    const script = `
      const { createLogger } = await import(${JSON.stringify(`${import.meta.dir}/../../src/lib/logger.ts`)});
      const log = createLogger('info');
      for (let i = 0; i < 2000; i++) log.info('line', { i });
      log.error('fatal', { last: true });
      process.exit(3);`;
    const proc = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe' });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(3);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2001);
    expect(lines.slice(0, 2000).map((l) => l.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(lines[2000]).toMatchObject({ level: 'error', msg: 'fatal', last: true });
  });
});
