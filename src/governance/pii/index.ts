/**
 * PII redaction (issue #8, point 5): detectors, the redactor and its modes, reversible placeholders
 * restored in whole and streamed answers, and the config schema. Pure: no I/O, no model.
 */
export { piiConfigSchema, type PiiConfig } from './config.js';
export { CustomPatternError, MAX_PATTERN_LENGTH } from './custom.js';
export { type DetectOptions, detectPii, resolveOverlaps } from './detectors.js';
export { createPlaceholderVault, type PlaceholderVault } from './placeholders.js';
export {
  type BlockedPii,
  createRedactor,
  type MessageLike,
  type MessagesRedaction,
  type PiiCounts,
  type PiiPolicy,
  piiBlockedError,
  type RedactResult,
  type Redactor,
} from './redact.js';
export { createStreamRestorer, type StreamRestorer } from './stream-restore.js';
export { type CustomPattern, PII_MODES, PII_TYPES, type PiiMode, type PiiSpan, type PiiType } from './types.js';
export { createChunkRestorer, maskMessage, restoreCompletion } from './answers.js';
