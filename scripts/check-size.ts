/**
 * Structure check (`npm run check:size`, run by CI next to lint). Fails, printing file:line and
 * a name, when:
 * - a file under src/ has more than MAX_FILE_LINES lines;
 * - a function's own body has more than MAX_FUNCTION_LINES lines (lines inside nested function
 *   bodies count for the nested function, not for the one around it);
 * - a file of a lower layer (src/lib, src/db, src/realtime, src/protocol, src/http) imports a
 *   feature module (src/modules, src/web): dependencies point down, so the lower layers stay
 *   usable by every feature, by scripts and by tests without dragging features along.
 *
 * Uses the TypeScript compiler's parser, so a brace in a string or a comment cannot fool it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export const MAX_FILE_LINES = 400;
export const MAX_FUNCTION_LINES = 80;
const LOWER_LAYERS = ['src/lib/', 'src/db/', 'src/realtime/', 'src/protocol/', 'src/http/'];
const FEATURE_LAYERS = ['src/modules/', 'src/web/'];

export interface Violation {
  file: string;
  line: number;
  message: string;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(path) : [path];
  });
}

function lineOf(source: ts.SourceFile, pos: number): number {
  return source.getLineAndCharacterOfPosition(pos).line + 1;
}

/** A readable name: the declaration's own, the variable or property it is assigned to, or `<anonymous>`. */
function functionName(node: ts.FunctionLikeDeclaration): string {
  if (node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) return node.name.text;
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isPropertyDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (ts.isCallExpression(parent)) return `<callback of ${parent.expression.getText().slice(0, 40)}>`;
  return '<anonymous>';
}

/** Lines strictly between a body's first and last line, minus those strictly inside nested function bodies. */
function ownBodyLines(source: ts.SourceFile, body: ts.Node): number {
  const first = lineOf(source, body.getStart(source));
  const last = lineOf(source, body.getEnd());
  const own = new Set<number>();
  for (let line = first + 1; line < last; line++) own.add(line);
  const removeNested = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const nestedBody = node.body as ts.Node;
      const from = lineOf(source, nestedBody.getStart(source));
      const to = lineOf(source, nestedBody.getEnd());
      for (let line = from + 1; line < to; line++) own.delete(line);
      return;
    }
    ts.forEachChild(node, removeNested);
  };
  ts.forEachChild(body, removeNested);
  return own.size;
}

function checkFunctions(file: string, source: ts.SourceFile): Violation[] {
  const found: Violation[] = [];
  const visit = (node: ts.Node, outer: string[]): void => {
    let path = outer;
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const fn = node as ts.FunctionLikeDeclaration;
      path = [...outer, functionName(fn)];
      const lines = ownBodyLines(source, node.body as ts.Node);
      if (lines > MAX_FUNCTION_LINES) {
        found.push({
          file,
          line: lineOf(source, node.getStart(source)),
          message: `function ${path.join(' › ')} has ${lines} lines of its own body (max ${MAX_FUNCTION_LINES})`,
        });
      }
    }
    ts.forEachChild(node, (child) => visit(child, path));
  };
  visit(source, []);
  return found;
}

function checkImports(root: string, file: string, source: ts.SourceFile): Violation[] {
  if (!LOWER_LAYERS.some((layer) => file.startsWith(layer))) return [];
  const found: Violation[] = [];
  for (const statement of source.statements) {
    const specifier =
      (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier;
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    const target = relative(root, resolve(root, dirname(file), specifier.text));
    if (FEATURE_LAYERS.some((layer) => `${target}/`.startsWith(layer))) {
      found.push({
        file,
        line: lineOf(source, statement.getStart(source)),
        message: `imports feature code ${specifier.text}: lib/, db/, realtime/, protocol/ and http/ must not depend on src/modules or src/web`,
      });
    }
  }
  return found;
}

export function checkTree(root: string): Violation[] {
  const violations: Violation[] = [];
  for (const path of listFiles(join(root, 'src')).sort()) {
    const file = relative(root, path);
    const text = readFileSync(path, 'utf8');
    const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length;
    if (lines > MAX_FILE_LINES) {
      violations.push({ file, line: 1, message: `file has ${lines} lines (max ${MAX_FILE_LINES})` });
    }
    if (!/\.tsx?$/.test(file)) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    violations.push(...checkFunctions(file, source), ...checkImports(root, file, source));
  }
  return violations;
}

if (import.meta.main) {
  const violations = checkTree(resolve(import.meta.dir, '..'));
  for (const v of violations) console.error(`${v.file}:${v.line}: ${v.message}`);
  if (violations.length > 0) {
    console.error(`check:size: ${violations.length} problem(s)`);
    process.exit(1);
  }
  console.log(
    `check:size: files ≤ ${MAX_FILE_LINES} lines, functions ≤ ${MAX_FUNCTION_LINES}, layers point down`,
  );
}
