/** JSON Schema shorthands for the hand-written parts of the OpenAPI document, and zod → JSON Schema for the rest. Part of src/http/openapi.ts. */

import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A zod schema as the JSON Schema of the input it accepts. Unrepresentable types throw (a test catches them). */
export function inputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  return rest;
}

// --- JSON Schema shorthands for the hand-written response objects -------------------------------------

export const string: JsonSchema = { type: 'string' };
export const integer: JsonSchema = { type: 'integer' };
export const number: JsonSchema = { type: 'number' };
export const boolean: JsonSchema = { type: 'boolean' };
export const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
export const anyObject: JsonSchema = { type: 'object', additionalProperties: {} };
export const nullable = (s: JsonSchema): JsonSchema => ({ anyOf: [s, { type: 'null' }] });
export const constant = (value: unknown): JsonSchema => ({ const: value });
export const oneOfValues = (values: readonly unknown[]): JsonSchema => ({ enum: [...values] });
export const arrayOf = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
export const describe = (s: JsonSchema, description: string): JsonSchema => ({ ...s, description });

/** An object schema; every property is required but those named `optional`. */
export function obj(properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
  return { type: 'object', properties, required: Object.keys(properties).filter((k) => !optional.includes(k)) };
}

/**
 * The properties of an object the API shows, one per field of its TypeScript type `T`: a field added
 * to or removed from the type fails to compile here until the document follows.
 */
export function fieldsOf<T>(properties: { [K in keyof Required<T>]: JsonSchema }): Record<string, JsonSchema> {
  return properties as Record<string, JsonSchema>;
}

export const list = (item: JsonSchema, extra: Record<string, JsonSchema> = {}): JsonSchema => obj({ object: constant('list'), ...extra, data: arrayOf(item) });
export const deleted = (object: string, key = 'id'): JsonSchema => obj({ [key]: string, object: constant(object), deleted: constant(true) });
export const allOf = (...parts: JsonSchema[]): JsonSchema => ({ allOf: parts });
