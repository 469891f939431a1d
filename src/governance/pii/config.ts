/**
 * The `pii` section of the config, for src/config/schema.ts to include. Custom patterns are compiled
 * while the config is parsed, so a bad one stops start-up with its name and the reason instead of
 * failing (or hanging) on the first request that meets it.
 */
import { z } from 'zod';
import { compilePatterns, CustomPatternError } from './custom.js';
import { PII_MODES, PII_TYPES } from './types.js';

const mode = z.enum(PII_MODES);

const customPatternSchema = z.strictObject({
  name: z.string(),
  pattern: z.string(),
  flags: z.string().optional(),
  mode: mode.optional(),
});

export const piiConfigSchema = z
  .strictObject({
    /** Off by default: redaction changes what the model sees, so a deployment turns it on knowingly. */
    enabled: z.boolean().default(false),
    /**
     * The mode of each type to look for; a type left out is not looked for. Placeholders for contact
     * details (the model can still write "I'll email <PII_EMAIL_1>" and the client reads the address),
     * masks for numbers no answer needs to repeat.
     */
    modes: z.partialRecord(z.enum(PII_TYPES), mode).default({
      email: 'placeholder',
      phone: 'placeholder',
      credit_card: 'mask',
      iban: 'mask',
      ip: 'mask',
      us_ssn: 'mask',
      uk_nino: 'mask',
      es_dni: 'mask',
      fr_nir: 'mask',
    }),
    custom: z.array(customPatternSchema).default([]),
    /** Where the policy applies: the upstream request (and its answer), memory writes, log lines. */
    apply: z
      .strictObject({ upstream: z.boolean().default(true), memory: z.boolean().default(true), logs: z.boolean().default(true) })
      .default({ upstream: true, memory: true, logs: true }),
  })
  .superRefine((cfg, ctx) => {
    try {
      compilePatterns(cfg.custom);
    } catch (err) {
      if (!(err instanceof CustomPatternError)) throw err;
      const i = cfg.custom.findIndex((p) => p.name === err.patternName);
      ctx.addIssue({ code: 'custom', message: err.message, path: ['custom', Math.max(0, i)] });
    }
  });

export type PiiConfig = z.infer<typeof piiConfigSchema>;
