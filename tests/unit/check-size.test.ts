import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkTree, MAX_FUNCTION_LINES } from '../../scripts/check-size';

const ROOT = new URL('../../', import.meta.url).pathname;
const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'hive-size-'));
  temps.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const statements = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');

describe('check:size', () => {
  test('reports a function whose own body is too long, with file, line and name', () => {
    const root = tree({
      'src/big.ts': `// header\nexport function tooLong() {\n${statements(MAX_FUNCTION_LINES + 1)}\n}\n`,
    });
    expect(checkTree(root)).toEqual([
      { file: 'src/big.ts', line: 2, message: expect.stringContaining('function tooLong has 81 lines') },
    ]);
  });

  test('lines of nested functions count for them, not for the function around them', () => {
    const half = Math.ceil(MAX_FUNCTION_LINES / 2) + 5;
    const root = tree({
      'src/factory.ts': `export function createThing() {\n  function a() {\n${statements(half)}\n  }\n  const b = () => {\n${statements(half)}\n  };\n  return { a, b };\n}\n`,
    });
    expect(checkTree(root)).toEqual([]);
  });

  test('reports a file over 400 lines', () => {
    const root = tree({ 'src/long.ts': `${'export const x = 1;\n'.repeat(401)}` });
    expect(checkTree(root).map((v) => `${v.file}:${v.line}`)).toEqual(['src/long.ts:1']);
  });

  test('reports a lower layer importing a feature module', () => {
    const root = tree({
      'src/modules/users/service.ts': 'export const users = 1;\n',
      'src/lib/helper.ts': "import { users } from '../modules/users/service';\nexport const h = users;\n",
      'src/modules/tasks/service.ts': "import { users } from '../users/service';\nexport const t = users;\n",
    });
    expect(checkTree(root)).toEqual([
      { file: 'src/lib/helper.ts', line: 1, message: expect.stringContaining('imports feature code') },
    ]);
  });

  test('in this repository, lib/, db/, realtime/, protocol/ and http/ import no feature module', () => {
    const layering = checkTree(ROOT).filter((v) => v.message.includes('imports feature code'));
    expect(layering).toEqual([]);
  });
});
