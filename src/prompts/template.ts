import { GatewayError } from '../errors.js';

/**
 * Prompt templates without code: `{{name}}` placeholders in a system and a user text, filled from
 * declared, typed variables. Rendering is one pass of text substitution, so a value that contains
 * `{{…}}` is inserted as it is and never expanded.
 */

export const VARIABLE_TYPES = ['string', 'number', 'boolean', 'array', 'object'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

export interface PromptVariable {
  name: string;
  type: VariableType;
  required: boolean;
  description?: string;
  /** Used when an optional variable is not given (otherwise it renders as an empty string). */
  default?: unknown;
}

export interface PromptTemplate {
  system: string | null;
  user: string;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variable names a template refers to, in order of first use. */
export function placeholders(template: PromptTemplate): string[] {
  const names = new Set<string>();
  for (const text of [template.system ?? '', template.user]) for (const m of text.matchAll(PLACEHOLDER)) names.add(m[1] as string);
  return [...names];
}

/** What a JSON value is, in the words of the variable types (`null` is named as such). */
export function typeOf(value: unknown): VariableType | 'null' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' ? t : 'object';
}

/**
 * Checks the given values against the declared variables: every problem is named (missing,
 * wrong type, undeclared), in one 422, so a caller fixes them all at once.
 */
export function checkVariables(declared: readonly PromptVariable[], given: Record<string, unknown>, prompt: string): Record<string, unknown> {
  const problems: Array<{ name: string; text: string }> = [];
  // No prototype: a variable may be called `constructor` or `__proto__`.
  const values: Record<string, unknown> = Object.create(null);
  for (const v of declared) {
    const value = Object.hasOwn(given, v.name) ? given[v.name] : undefined;
    if (value === undefined) {
      if (v.required) problems.push({ name: v.name, text: `"${v.name}" is required (${v.type})` });
      else if (v.default !== undefined) values[v.name] = v.default;
      continue;
    }
    const got = typeOf(value);
    if (got !== v.type) problems.push({ name: v.name, text: `"${v.name}" must be ${article(v.type)}, got ${got}` });
    else values[v.name] = value;
  }
  const known = declared.map((v) => v.name);
  for (const name of Object.keys(given)) {
    if (!known.includes(name)) problems.push({ name, text: `"${name}" is not a variable of this prompt (${known.length ? `it has ${known.join(', ')}` : 'it has none'})` });
  }
  const first = problems[0];
  if (first) {
    throw new GatewayError(`Invalid variables for prompt "${prompt}": ${problems.map((p) => p.text).join('; ')}.`, {
      status: 422,
      code: 'prompt_variables_invalid',
      category: 'client',
      param: `variables.${first.name}`,
      details: { problems },
    });
  }
  return values;
}

const article = (t: VariableType) => (t === 'array' || t === 'object' ? `an ${t}` : `a ${t}`);

/** Fills the placeholders: text as it is, numbers and booleans as written in JSON, arrays and objects as JSON. */
export function render(template: PromptTemplate, values: Record<string, unknown>): PromptTemplate {
  const fill = (text: string) =>
    text.replace(PLACEHOLDER, (_all, name: string) => {
      const value = Object.hasOwn(values, name) ? values[name] : undefined;
      if (value === undefined) return '';
      return typeof value === 'string' ? value : JSON.stringify(value);
    });
  return { system: template.system === null ? null : fill(template.system), user: fill(template.user) };
}
