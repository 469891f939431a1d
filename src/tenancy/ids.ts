import { createHash, randomBytes } from 'node:crypto';

/** Short random ids with a readable prefix (`ten_…`, `key_…`), like the ids of OpenAI's API. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** API key secrets: 32 random bytes; the `cgw_` prefix lets secret scanners recognise a leaked key. */
export function newSecret(): string {
  return `cgw_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
