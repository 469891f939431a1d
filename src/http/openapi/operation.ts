/** The shape of one documented operation, and notes shared by several. Part of src/http/openapi.ts. */

import type { z } from 'zod';
import type { JsonSchema, Method } from './shapes.js';

export interface Operation {
  method: Method;
  /** Express syntax: `/admin/v1/keys/:id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  auth: 'admin' | 'key' | 'none';
  /** The zod schema the route validates its query with; `extraQuery` for parameters read by hand. */
  query?: z.ZodType;
  extraQuery?: Array<{ name: string; description: string; schema: JsonSchema }>;
  /** Path parameters validated by a schema (the others are strings). */
  pathParams?: Record<string, z.ZodType>;
  /** The zod schema of the JSON body (or the JSON Schema, when the route accepts alternatives). */
  body?: z.ZodType | { json: JsonSchema; multipart?: JsonSchema };
  bodyOptional?: boolean;
  ok: { status: number; description: string; schema: JsonSchema; csv?: boolean; sse?: boolean; headers?: Record<string, string> };
  /** Error statuses beyond those every operation of its kind may answer. */
  errors?: string[];
}

export const SCOPE_NOTE = 'A key limited by `route:` scopes needs the scope of this API.';
