/**
 * Applies a PII policy to text and to OpenAI chat messages: each detected type is masked, replaced by
 * a reversible placeholder, or blocks the request. Three places want it, with different modes:
 *
 * - what is sent upstream: `redactMessages` with the policy's modes; the vault it returns restores the
 *   answer (`vault.restore`, or `createStreamRestorer(vault)` for a stream), and a non-empty `blocked`
 *   means the request must be refused (`piiBlockedError`);
 * - what is stored in memory and what is logged: `mask`, every configured type masked whatever its
 *   mode, since a placeholder cannot be restored once its request is over and a blocked type must not
 *   be stored either.
 *
 * Pure and synchronous; the redactor holds only the compiled policy, so one instance serves every
 * request.
 */
import { GatewayError } from '../../errors.js';
import { compiledCustom, detectPii } from './detectors.js';
import { createPlaceholderVault, type PlaceholderVault } from './placeholders.js';
import type { CustomPattern, PiiMode, PiiSpan, PiiType } from './types.js';

export interface PiiPolicy {
  /** The mode of each type to look for; a type not listed is not looked for. */
  modes: Partial<Record<PiiType, PiiMode>>;
  /** Looked for whenever non-empty; each pattern's `mode`, else `modes.custom`, else 'mask'. */
  custom?: readonly CustomPattern[];
}

/** Detections per type (custom patterns all count as `custom`). */
export type PiiCounts = Partial<Record<PiiType, number>>;

/** A type found in `block` mode: `name` is the custom pattern's. Never carries the value. */
export interface BlockedPii {
  type: PiiType;
  name?: string;
}

export interface RedactResult {
  text: string;
  counts: PiiCounts;
  /** Distinct types found in block mode; their values are masked in `text` all the same. */
  blocked: BlockedPii[];
}

/** An OpenAI chat message, as much of it as redaction reads. */
export interface MessageLike {
  content?: string | ReadonlyArray<{ type: string }> | null;
}

export interface MessagesRedaction<M> {
  /** A copy: changed messages and parts are new objects, the rest shared with the input. */
  messages: M[];
  vault: PlaceholderVault;
  counts: PiiCounts;
  blocked: BlockedPii[];
}

export interface Redactor {
  /** The types this policy looks for. */
  readonly types: readonly PiiType[];
  detect(text: string): PiiSpan[];
  /** Applies each type's mode; placeholders go into `vault` (one per request; a new one when omitted). */
  redact(text: string, vault?: PlaceholderVault): RedactResult;
  /** Redacts string contents and text parts of every message, sharing one vault; other parts are left alone. */
  redactMessages<M extends MessageLike>(messages: readonly M[], vault?: PlaceholderVault): MessagesRedaction<M>;
  /** Every configured type masked, whatever its mode: for memory writes and logs. */
  mask(text: string): string;
}

/** `email` → `EMAIL`, custom `employee_id` → `EMPLOYEE_ID`: the tag in `[EMAIL]` and `<PII_EMAIL_1>`. */
export const tagOf = (s: Pick<PiiSpan, 'type' | 'name'>): string => (s.type === 'custom' && s.name ? s.name : s.type).toUpperCase();

export function createRedactor(policy: PiiPolicy): Redactor {
  const custom = policy.custom ?? [];
  const compiled = compiledCustom(custom);
  const customMode = new Map(compiled.map((p) => [p.name, p.mode ?? policy.modes.custom ?? 'mask']));
  const types = Object.freeze([
    ...(Object.keys(policy.modes) as PiiType[]).filter((t) => t !== 'custom' || custom.length > 0),
    ...(custom.length > 0 && policy.modes.custom === undefined ? (['custom'] as const) : []),
  ]);
  const detectOpts = { types, custom };
  const modeOf = (s: PiiSpan): PiiMode => (s.type === 'custom' ? (customMode.get(s.name ?? '') ?? 'mask') : (policy.modes[s.type] ?? 'mask'));

  const replace = (text: string, spans: readonly PiiSpan[], by: (s: PiiSpan) => string): string => {
    let out = '';
    let at = 0;
    for (const s of spans) {
      out += text.slice(at, s.start) + by(s);
      at = s.end;
    }
    return out + text.slice(at);
  };

  const redactInto = (text: string, vault: PlaceholderVault, counts: PiiCounts, blocked: Map<string, BlockedPii>): string => {
    const spans = detectPii(text, detectOpts);
    if (spans.length === 0) return text;
    return replace(text, spans, (s) => {
      counts[s.type] = (counts[s.type] ?? 0) + 1;
      const mode = modeOf(s);
      if (mode === 'placeholder') return vault.tokenFor(tagOf(s), s.text);
      if (mode === 'block') blocked.set(tagOf(s), s.type === 'custom' ? { type: s.type, name: s.name } : { type: s.type });
      return `[${tagOf(s)}]`;
    });
  };

  return {
    types,
    detect: (text) => detectPii(text, detectOpts),
    redact(text, vault = createPlaceholderVault()) {
      const counts: PiiCounts = {};
      const blocked = new Map<string, BlockedPii>();
      const out = redactInto(text, vault, counts, blocked);
      return { text: out, counts, blocked: [...blocked.values()] };
    },
    redactMessages<M extends MessageLike>(messages: readonly M[], vault = createPlaceholderVault()): MessagesRedaction<M> {
      const counts: PiiCounts = {};
      const blocked = new Map<string, BlockedPii>();
      const out = messages.map((m) => {
        const c = m.content;
        if (typeof c === 'string') {
          const r = redactInto(c, vault, counts, blocked);
          return r === c ? m : ({ ...m, content: r } as M);
        }
        if (!Array.isArray(c)) return m;
        let changed = false;
        const parts = c.map((p: { type: string; text?: unknown }) => {
          if (p.type !== 'text' || typeof p.text !== 'string') return p;
          const r = redactInto(p.text, vault, counts, blocked);
          if (r === p.text) return p;
          changed = true;
          return { ...p, text: r };
        });
        return changed ? ({ ...m, content: parts } as M) : m;
      });
      return { messages: out, vault, counts, blocked: [...blocked.values()] };
    },
    mask(text) {
      const spans = detectPii(text, detectOpts);
      return spans.length === 0 ? text : replace(text, spans, (s) => `[${tagOf(s)}]`);
    },
  };
}

/** The 400 a request with a blocked type gets: names the types (never the values) so the caller can fix the text. */
export function piiBlockedError(blocked: readonly BlockedPii[]): GatewayError {
  const names = [...new Set(blocked.map((b) => (b.type === 'custom' && b.name ? b.name : b.type)))];
  return new GatewayError(`The request contains personal data this gateway is configured to refuse: ${names.join(', ')}. Remove it and retry.`, {
    status: 400,
    code: 'pii_blocked',
    category: 'client',
    details: { types: names },
  });
}
