/**
 * The vocabulary of PII redaction (issue #8, point 5): what can be detected, what a detection is, and
 * what may be done with it. Shared by the detectors, the redactor and the config schema.
 *
 * Personal names are not a type: catching them needs a NER model, and none can be had offline here
 * (no model ships with the gateway, and it must not download one at run time). A deployment that must
 * catch known names (its own staff, say) lists them as a `custom` pattern.
 */

/** Detector ids. National ids are named by country (`us_ssn`, `uk_nino`, `es_dni`, `fr_nir`). */
export const PII_TYPES = ['email', 'phone', 'credit_card', 'iban', 'ip', 'us_ssn', 'uk_nino', 'es_dni', 'fr_nir', 'custom'] as const;
export type PiiType = (typeof PII_TYPES)[number];

/**
 * What happens to a detected value: `mask` replaces it by a tag (`[EMAIL]`), `placeholder` by a token
 * (`<PII_EMAIL_1>`) that is restored in the answer, `block` refuses the request (400 `pii_blocked`).
 */
export const PII_MODES = ['mask', 'placeholder', 'block'] as const;
export type PiiMode = (typeof PII_MODES)[number];

/** One detected value: `text` is `input.slice(start, end)`; `name` is the custom pattern's name. */
export interface PiiSpan {
  type: PiiType;
  start: number;
  end: number;
  text: string;
  name?: string;
}

/**
 * A deployment's own pattern ("employee_id": `EMP-\d{6}`). `name` becomes the tag (`[EMPLOYEE_ID]`),
 * so it is restricted to lower-case letters, digits and underscores; `mode` overrides the policy's
 * `custom` mode for this pattern. See custom.ts for what a pattern may contain.
 */
export interface CustomPattern {
  name: string;
  pattern: string;
  flags?: string;
  mode?: PiiMode;
}
