/**
 * Reversible placeholders: within one request each distinct value of a type gets a stable token
 * (`<PII_EMAIL_1>`, `<PII_EMAIL_2>`, `<PII_EMPLOYEE_ID_1>`), so the model can still tell two addresses
 * apart and refer back to them, and the answer is restored before the client sees it.
 *
 * A vault lives for one request and is never stored: the same value gets another number in the next
 * request, so placeholder text must not reach memory or logs (mask those instead). A token the user
 * typed literally that coincides with one the vault assigned is restored too; it can only ever
 * restore the user's own value of the same request.
 */

/** Upper-case tag, underscore, number, in angle brackets: no character a model tends to rewrite or escape. */
export const TOKEN_RE = /<PII_[A-Z][A-Z0-9_]*_\d+>/g;

export interface PlaceholderVault {
  /** The token for `value` under `tag` (`EMAIL`, `EMPLOYEE_ID`), the same one each time within this vault. */
  tokenFor(tag: string, value: string): string;
  /** The original of a token this vault assigned. */
  get(token: string): string | undefined;
  /** `text` with every token of this vault put back; unknown tokens are left as written. */
  restore(text: string): string;
  /** Tokens assigned so far. */
  readonly size: number;
  /** The longest token assigned so far (what a stream restorer may hold back, at most). */
  readonly maxTokenLength: number;
  /** Token → original, in assignment order. */
  entries(): IterableIterator<[string, string]>;
}

export function createPlaceholderVault(): PlaceholderVault {
  return new Vault();
}

// A class, not an object literal with getters: a getter in a literal is a new hidden class per
// vault, kept in old space with the closures it holds until the next full collection.
class Vault implements PlaceholderVault {
  readonly #byToken = new Map<string, string>();
  readonly #byValue = new Map<string, string>();
  readonly #counters = new Map<string, number>();
  #maxTokenLength = 0;

  tokenFor(tag: string, value: string): string {
    const key = `${tag}\u0000${value}`;
    let token = this.#byValue.get(key);
    if (token === undefined) {
      const n = (this.#counters.get(tag) ?? 0) + 1;
      this.#counters.set(tag, n);
      token = `<PII_${tag}_${n}>`;
      this.#byValue.set(key, token);
      this.#byToken.set(token, value);
      this.#maxTokenLength = Math.max(this.#maxTokenLength, token.length);
    }
    return token;
  }

  get(token: string): string | undefined {
    return this.#byToken.get(token);
  }

  restore(text: string): string {
    if (this.#byToken.size === 0 || !text.includes('<PII_')) return text;
    return text.replace(TOKEN_RE, (t) => this.#byToken.get(t) ?? t);
  }

  get size(): number {
    return this.#byToken.size;
  }

  get maxTokenLength(): number {
    return this.#maxTokenLength;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#byToken.entries();
  }
}
