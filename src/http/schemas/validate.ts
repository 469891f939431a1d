import type { z } from 'zod';
import { badRequest, bodyErrors } from '../../errors.js';

/** Parses `input` with a zod schema, turning the first issue into a 400 that names the field. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.infer<S> {
  if (input === undefined && what === 'request body') {
    throw bodyErrors.notJson();
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const param = formatPath(issue.path);
  throw badRequest(param ? `Invalid ${what}: ${param}: ${issue.message}` : `Invalid ${what}: ${issue.message}`, param || undefined, 'invalid_request');
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}
