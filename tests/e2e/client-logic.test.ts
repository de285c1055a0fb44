import { describe, expect, test } from 'bun:test';
import { backoffDelay } from '../../src/web/client/live';
import { contentSecurityPolicy } from '../../src/web/feature';

/** The page's pure pieces, checked without a browser (so these run even where Chromium is missing). */
describe('dashboard page logic', () => {
  test('reconnect delays grow exponentially, are jittered between half and all of the step, and cap at 15 s', () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 0)).toBe(2_000);
    expect(backoffDelay(3, () => 1)).toBe(4_000);
    expect(backoffDelay(50, () => 1)).toBe(15_000);
    expect(backoffDelay(50, () => 0)).toBe(7_500);
    // Two tabs dropped at the same moment do not come back in the same instant.
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(4)));
    expect(delays.size).toBeGreaterThan(1);
  });

  test('the page bundle carries no server libraries: protocol types are imported as types only', async () => {
    // The same build src/web/feature.ts makes at start-up.
    const result = await Bun.build({
      entrypoints: [new URL('../../src/web/client/main.ts', import.meta.url).pathname],
      target: 'browser',
      format: 'esm',
      minify: true,
    });
    expect(result.success).toBe(true);
    const script = await result.outputs[0]!.text();
    // TypeBox's runtime marks its schemas with this symbol; Elysia names itself in its errors.
    expect(script).not.toContain('TypeBox.Kind');
    expect(script).not.toContain('Elysia');
    // ~24 KB today (20 KB before the split into modules); a server library pulled in would be 100s of KB.
    expect(script.length).toBeLessThan(40_000);
  });

  test('the CSP allows only same-origin script, style and connections, plus ws/wss of the host', () => {
    const csp = contentSecurityPolicy('hive.example:8443');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self' ws://hive.example:8443 wss://hive.example:8443");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(contentSecurityPolicy(null)).toContain("connect-src 'self';");
    expect(contentSecurityPolicy('a b; script-src *')).toContain("connect-src 'self';");
  });
});
