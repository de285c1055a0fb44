/**
 * TypeBox schemas as tools read them. The OpenAPI and AsyncAPI documents are built from the
 * very TypeBox objects that validate requests and frames, but those objects carry things
 * only Elysia wants:
 * - numeric coercion: Elysia rewrites every `t.Integer`/`t.Number` it meets, in place, into
 *   `anyOf: [{type: "string", format: "integer"}, {type: "integer"}]` so query strings coerce;
 *   documented as is, every count becomes "string or integer" in generated clients;
 * - `$id: "#/components/schemas/X"` on the resource schemas, which no tool resolves (and which
 *   a 2020-12 validator refuses: an `$id` may not carry a fragment); here it becomes a `$ref`;
 * - `nullable: true` beside `type: [..., "null"]` (an OpenAPI 3.0 keyword, unknown in 3.1);
 * - `patternProperties: {"^(.*)$": X}` for `t.Record`, which generators read less well than
 *   the equivalent `additionalProperties: X`;
 * - unions of literals (`anyOf` of `const`s, how we spell enumerations) become `enum`, which
 *   Swagger UI offers as a drop-down and generators as a union type.
 */

export type JsonSchema = Record<string, unknown>;

const COMPONENT_ID = /^#\/components\/schemas\/([A-Za-z0-9_.-]+)$/;
const COERCED_FORMATS = new Set(['integer', 'numeric', 'number', 'boolean']);
const ANY_KEY = '^(.*)$';

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The component name a schema's `$id` gives it, if it is one of ours. */
export function componentName(schema: unknown): string | undefined {
  if (!isObject(schema) || typeof schema.$id !== 'string') return undefined;
  return COMPONENT_ID.exec(schema.$id)?.[1];
}

/** `anyOf` of string `const`s → `{type: "string", enum}` with the outer keywords. */
function literalUnion(schema: JsonSchema, anyOf: unknown[]): JsonSchema | undefined {
  if (!anyOf.every((s) => isObject(s) && typeof s.const === 'string')) return undefined;
  const { anyOf: _, ...outer } = schema;
  return { type: 'string', enum: anyOf.map((s) => (s as JsonSchema).const), ...outer };
}

/** `anyOf: [{type: "string", …}, {type: "null"}]` (`t.Nullable`) → `{type: ["string", "null"], …}`. */
function nullableType(schema: JsonSchema, anyOf: unknown[]): JsonSchema | undefined {
  if (anyOf.length !== 2) return undefined;
  const nullAt = anyOf.findIndex((s) => isObject(s) && s.type === 'null' && Object.keys(s).length === 1);
  const other = anyOf[1 - nullAt];
  if (nullAt === -1 || !isObject(other) || typeof other.type !== 'string') return undefined;
  const { anyOf: _, ...outer } = schema;
  return { ...other, ...outer, type: [other.type, 'null'] };
}

/**
 * `anyOf: [{type: string, format: integer}, X]` (Elysia's coercion) → X with the outer
 * keywords; a union of literals → an enum; a nullable primitive → a type list.
 */
function uncoerce(schema: JsonSchema): JsonSchema {
  const anyOf = schema.anyOf;
  if (!Array.isArray(anyOf)) return schema;
  const simpler = literalUnion(schema, anyOf) ?? nullableType(schema, anyOf);
  if (simpler) return simpler;
  if (anyOf.length !== 2) return schema;
  const coercion = anyOf.findIndex(
    (s) => isObject(s) && s.type === 'string' && COERCED_FORMATS.has(String(s.format)),
  );
  if (coercion === -1) return schema;
  const { anyOf: _, ...outer } = schema;
  return { ...(anyOf[1 - coercion] as JsonSchema), ...outer };
}

export interface NormaliseOptions {
  /** Where component references point, e.g. `#/components/schemas/` (both documents use it). */
  refPrefix: string;
  /** Receives every named schema met (normalised), so the caller can list it in components. */
  onComponent(name: string, schema: JsonSchema): void;
}

/**
 * A plain JSON Schema 2020-12 copy of `schema` (TypeBox symbols dropped by the JSON round
 * trip), with named schemas replaced by references. The top-level schema keeps its body even
 * when named (pass it through `ref` to reference it instead).
 */
export function normaliseSchema(schema: unknown, options: NormaliseOptions, top = true): unknown {
  if (Array.isArray(schema)) return schema.map((s) => normaliseSchema(s, options, false));
  if (!isObject(schema)) return schema;
  const name = componentName(schema);
  if (name && !top) {
    options.onComponent(name, normaliseSchema(schema, options, true) as JsonSchema);
    return { $ref: `${options.refPrefix}${name}` };
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(uncoerce(schema))) {
    if (key === '$id' || key === 'nullable') continue;
    if (key === 'properties' && isObject(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, normaliseSchema(v, options, false)]),
      );
    } else if (
      key === 'patternProperties' &&
      isObject(value) &&
      Object.keys(value).length === 1 &&
      ANY_KEY in value
    ) {
      out.additionalProperties = normaliseSchema(value[ANY_KEY], options, false);
    } else if (
      key === 'examples' ||
      key === 'example' ||
      key === 'default' ||
      key === 'const' ||
      key === 'enum'
    ) {
      out[key] = value; // data, not schemas
    } else {
      out[key] = normaliseSchema(value, options, false);
    }
  }
  return out;
}

/** A reference to a named schema, or the normalised schema itself when it has no name. */
export function schemaOrRef(schema: unknown, options: NormaliseOptions): unknown {
  const name = componentName(schema);
  if (!name) return normaliseSchema(schema, options);
  options.onComponent(name, normaliseSchema(schema, options) as JsonSchema);
  return { $ref: `${options.refPrefix}${name}` };
}

/**
 * Collects named schemas for a document's components. The first definition of a name wins;
 * every definition of one name comes from the same TypeBox object, so they are equal.
 */
export function componentCollector(refPrefix = '#/components/schemas/') {
  const components: Record<string, JsonSchema> = {};
  const options: NormaliseOptions = {
    refPrefix,
    onComponent(name, schema) {
      components[name] ??= schema;
    },
  };
  return { components, options };
}
