import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Checks a response against the server's own OpenAPI document: the status must be listed for
 * that route, the body must match the schema for that status, and the documented headers
 * must be there (required ones) and well-formed (integers). `tests/helpers/api.ts` runs it on
 * every response, so every integration test also checks that the document tells the truth.
 *
 * The document is fetched once per base URL; paths it does not describe (the page, Swagger
 * UI, unknown routes) are not checked.
 */

interface Operation {
  responses: Record<string, { headers?: Record<string, HeaderRef>; content?: Record<string, unknown> }>;
}
interface HeaderObject {
  required?: boolean;
  schema?: { type?: string };
}
type HeaderRef = HeaderObject | { $ref: string };
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { headers?: Record<string, HeaderObject> };
}

export interface ResponseChecker {
  /** Undefined when the response fits the document, else what is wrong (for an error message). */
  check(method: string, url: string, status: number, headers: Headers, body: unknown): string | undefined;
}

const OPENAPI_KEYWORDS = [
  'openapi',
  'info',
  'servers',
  'tags',
  'paths',
  'components',
  'example',
  'discriminator',
  'xml',
  'externalDocs',
];

/** `/api/v1/tasks/{id}` → a matcher for concrete paths. */
function pathMatcher(template: string): RegExp {
  const pattern = template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${pattern.join('[^/]+')}/?$`);
}

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export function createResponseChecker(doc: OpenApiDocument): ResponseChecker {
  const ajv = new Ajv2020({ allErrors: true, strictTypes: false });
  addFormats(ajv);
  ajv.addVocabulary(OPENAPI_KEYWORDS);
  ajv.addSchema({ ...doc, $id: 'hive-openapi' });
  const routes = Object.keys(doc.paths).map((template) => ({ template, matcher: pathMatcher(template) }));
  const compiled = new Map<string, ValidateFunction>();

  function validatorFor(template: string, method: string, status: string, media: string): ValidateFunction {
    const pointer = ['paths', template, method, 'responses', status, 'content', media, 'schema']
      .map(escapePointer)
      .join('/');
    let validate = compiled.get(pointer);
    if (!validate) {
      validate = ajv.getSchema(`hive-openapi#/${pointer}`);
      if (!validate) throw new Error(`no schema at ${pointer}`);
      compiled.set(pointer, validate);
    }
    return validate;
  }

  function headerProblems(documented: Record<string, HeaderRef>, headers: Headers): string[] {
    const problems: string[] = [];
    for (const [name, ref] of Object.entries(documented)) {
      const header = '$ref' in ref ? doc.components.headers?.[ref.$ref.split('/').pop()!] : ref;
      const value = headers.get(name);
      if (value === null) {
        if (header?.required) problems.push(`header ${name} is documented as required but missing`);
      } else if (header?.schema?.type === 'integer' && !/^\d+$/.test(value)) {
        problems.push(`header ${name}: "${value}" is not an integer`);
      }
    }
    return problems;
  }

  return {
    check(method, url, status, headers, body) {
      const path = new URL(url).pathname;
      const template = routes.find((r) => r.matcher.test(path))?.template;
      const operation = template ? doc.paths[template]?.[method.toLowerCase()] : undefined;
      if (!template || !operation) return undefined;
      const where = `${method.toUpperCase()} ${template} → ${status}`;
      const documented = operation.responses[String(status)];
      if (!documented)
        return `${where}: status not documented (documented: ${Object.keys(operation.responses).join(', ')}); body ${JSON.stringify(body)}`;
      const problems = headerProblems(documented.headers ?? {}, headers);
      const media = Object.keys(documented.content ?? {});
      if (media.includes('application/json')) {
        if (!headers.get('content-type')?.includes('json')) problems.push('body is not JSON');
        else {
          const validate = validatorFor(template, method.toLowerCase(), String(status), 'application/json');
          if (!validate(body)) problems.push(`body: ${ajv.errorsText(validate.errors, { dataVar: 'body' })}`);
        }
      } else if (media.length === 0 && body !== '' && body !== undefined) {
        problems.push(`documented without a body, got ${JSON.stringify(body).slice(0, 200)}`);
      }
      return problems.length ? `${where}: ${problems.join('; ')}` : undefined;
    },
  };
}

const checkers = new Map<string, Promise<ResponseChecker | undefined>>();

/**
 * The checker for the server at `baseUrl`, built from its `/swagger/json` on first use. If the
 * server cannot be asked (it was stopped on purpose), there is nothing to check against.
 */
export function responseCheckerFor(baseUrl: string): Promise<ResponseChecker | undefined> {
  let checker = checkers.get(baseUrl);
  if (!checker) {
    checker = fetch(`${baseUrl}/swagger/json`)
      .then(async (res) =>
        res.ok ? createResponseChecker((await res.json()) as OpenApiDocument) : undefined,
      )
      .catch(() => {
        checkers.delete(baseUrl); // try again next time rather than never checking this server
        return undefined;
      });
    checkers.set(baseUrl, checker);
  }
  return checker;
}
