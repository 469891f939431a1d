import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { luhnValid, mod97 } from '../../src/governance/pii/checksums.js';
import { compilePattern, CustomPatternError } from '../../src/governance/pii/custom.js';
import { detectPii, resolveOverlaps } from '../../src/governance/pii/detectors.js';
import {
  createPlaceholderVault,
  createRedactor,
  createStreamRestorer,
  type CustomPattern,
  PII_TYPES,
  type PiiSpan,
  type PiiType,
  piiBlockedError,
  piiConfigSchema,
} from '../../src/governance/pii/index.js';
import type { ChatMessage } from '../../src/providers/types.js';

const fixtures = join(import.meta.dirname, '../fixtures/pii');
const CUSTOM: CustomPattern[] = JSON.parse(readFileSync(join(fixtures, 'custom.json'), 'utf8'));

/** The values of `type` found in `text` (only that detector running). */
const found = (type: PiiType, text: string, custom?: CustomPattern[]) => detectPii(text, { types: [type], custom }).map((s) => s.text);
/** Each text yields exactly `value` for `type` (the text is checked whole, so neighbours must not leak in). */
const catches = (type: PiiType, cases: Array<[string, string]>) => {
  for (const [text, value] of cases) expect(found(type, text), text).toEqual([value]);
};
const misses = (type: PiiType, texts: string[]) => {
  for (const text of texts) expect(found(type, text), text).toEqual([]);
};

describe('checksums', () => {
  it('Luhn and mod 97', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('41x1')).toBe(false);
    expect(mod97('370400440532013000131489')).toBe(1); // DE89 3704 0044 0532 0130 00 rearranged, D=13 E=14
  });
});

describe('detectors', () => {
  it('email: addresses with plus, subdomains, upper case; not a trailing dot, not "a@b"', () => {
    catches('email', [
      ['write to john.doe+tag@example.co.uk.', 'john.doe+tag@example.co.uk'],
      ['From: "Ravi" <ravi@infra.example.in>', 'ravi@infra.example.in'],
      ['OPS@CONTOSO.COM is on call', 'OPS@CONTOSO.COM'],
      ['mailto:billing@northwind.com?subject=x', 'billing@northwind.com'],
    ]);
    misses('email', ['meet @ 5pm', 'user@localhost', 'a..b@example.com', 'john dot doe at gmail dot com', 'pkg@1.2.3']);
  });

  it('phone: E.164 and national formats with separators; not years, prices, ids, dates, ISBNs', () => {
    catches('phone', [
      ['call +1 (415) 555-2671 today', '+1 (415) 555-2671'],
      ['(415) 555-2671', '(415) 555-2671'],
      ['415.555.2671', '415.555.2671'],
      ['06 12 34 56 78', '06 12 34 56 78'],
      ['+44 (0)20 7946 0958', '+44 (0)20 7946 0958'],
      ['+14155552671', '+14155552671'],
      ['tel:+14155550132', '+14155550132'],
      ['0049 171 2345678', '0049 171 2345678'],
      ['1-800-555-0199', '1-800-555-0199'],
      ['612 345 678', '612 345 678'],
      ['my mobile 07700900123', '07700900123'],
      ['call me back on 555-0142', '555-0142'],
    ]);
    misses('phone', [
      'It happened in 2019 and cost $1,299.00',
      'Invoice 4820193746 is overdue',
      'order 4155552671',
      '4155552671',
      'Meeting moved to 2024-01-15 10:30',
      'ISBN 978-3-16-148410-0',
      'Part number 7700-4521-889',
      'Tracking: 1Z 999 AA1 01 2345 678 4',
      'The population is 8 336 817',
      'FedEx 7489 2043 1187',
      'The lottery numbers were 04 11 23 36 41 45',
      'SSN-shaped 123-45-6789',
      'version 10.0.19041.1',
      '555-0142',
    ]);
  });

  it('credit_card: Luhn-valid with a known issuer prefix and length, grouped as cards are', () => {
    catches('credit_card', [
      ['card 4111 1111 1111 1111 exp 12/27', '4111 1111 1111 1111'],
      ['4111 1111 1111 1111 12/27', '4111 1111 1111 1111'],
      ['amex 3782 822463 10005', '3782 822463 10005'],
      ['5555-5555-5555-4444', '5555-5555-5555-4444'],
      ['4242424242424242', '4242424242424242'],
    ]);
    misses('credit_card', [
      '4111 1111 1111 1112', // Luhn fails
      '1234 5678 9012 3452', // Luhn passes, no issuer starts with 1
      '4111 11111 1111 111', // not a card's grouping
      'USPS 9400 1000 0000 0000 0000 00', // part of a longer run
      'DE89 3704 0044 0532 0130 01', // the tail of an IBAN
      '+4111111111111', // a phone
    ]);
  });

  it('iban: registry length and mod 97; grouped or solid, any case', () => {
    catches('iban', [
      ['IBAN DE89 3704 0044 0532 0130 00, BIC X', 'DE89 3704 0044 0532 0130 00'],
      ['GB82WEST12345698765432', 'GB82WEST12345698765432'],
      ['refund to gb29 nwbk 6016 1331 9268 19 thanks', 'gb29 nwbk 6016 1331 9268 19'],
      ['DE89 3704 0044 0532 0130 00 1234', 'DE89 3704 0044 0532 0130 00'],
    ]);
    misses('iban', ['DE89 3704 0044 0532 0130 01', 'XX89370400440532013000', 'DE89370400440532013', 'the IBAN field takes 34 characters']);
  });

  it('ip: IPv4 with octet ranges, IPv6 full and compressed; not versions, OIDs, masks, times, MACs, code', () => {
    catches('ip', [
      ['server 192.168.1.10:8080', '192.168.1.10'],
      ['allow 52.14.201.9/32', '52.14.201.9'],
      ['fe80::1', 'fe80::1'],
      ['use 2001:db8::ff00:42:8329 now', '2001:db8::ff00:42:8329'],
      ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'],
      ['::1', '::1'],
      ['forwards to ::ffff:192.168.92.166:8080', '::ffff:192.168.92.166'],
      ['curl https://[2001:db8::1]:443/', '2001:db8::1'],
      ['the address fe80::1ff:fe23:4567:890a:', 'fe80::1ff:fe23:4567:890a'],
    ]);
    misses('ip', [
      'version 1.2.3.4',
      'v1.2.3.4',
      'upgraded the agent to 2.4.1.0',
      'OID 1.3.6.1.4.1.311',
      'Windows 10.0.19041.1',
      '256.1.1.1',
      '01.02.03.04',
      'mask 255.255.255.0',
      'at 10:30:00',
      'MAC 00:1A:2B:3C:4D:5E',
      'std::vector and Abc::Def',
    ]);
  });

  it('us_ssn: never-issued ranges excluded; bare digits only after a cue', () => {
    catches('us_ssn', [
      ['SSN 536-22-8145', '536-22-8145'],
      ['social: 212 67 4409', '212 67 4409'],
      ['my ssn 401889123', '401889123'],
    ]);
    misses('us_ssn', ['000-12-3456', '666-12-3456', '912-12-3456', '123-00-4567', '123-45-0000', '078-05-1120', '401889123', '123-45 6789']);
  });

  it('uk_nino: allocated prefixes, suffix A–D, spaced or solid', () => {
    catches('uk_nino', [
      ['NI number: JG103759A', 'JG103759A'],
      ['NINO PE 48 27 91 B', 'PE 48 27 91 B'],
      ['nino ab 12 34 56 c', 'ab 12 34 56 c'],
    ]);
    misses('uk_nino', ['QQ 12 34 56 C', 'DA123456A', 'GB123456A', 'AB123456E', 'ab 12 34 56 C']);
  });

  it('es_dni: DNI and NIE with the mod-23 letter', () => {
    catches('es_dni', [
      ['DNI 12345678Z', '12345678Z'],
      ['NIE X1234567L', 'X1234567L'],
      ['DNI: 12.345.678-Z', '12.345.678-Z'],
      ['dni 70892446y', '70892446y'],
    ]);
    misses('es_dni', ['12345678A', 'X1234567A', '1234567Z']);
  });

  it('fr_nir: 13 digits and the mod-97 key, Corsica included', () => {
    catches('fr_nir', [
      ['NIR 2 84 12 76 451 089 93', '2 84 12 76 451 089 93'],
      ['177059912345611', '177059912345611'],
      ['2 92 02 75 114 005 62', '2 92 02 75 114 005 62'],
    ]);
    // 2A: the key is computed on 19 in place of 2A.
    const body = '1850520123456';
    const key = String(97 - (Number(body.replace('2012', '1912')) % 97)).padStart(2, '0');
    catches('fr_nir', [[`1 85 05 2A 123 456 ${key}`, `1 85 05 2A 123 456 ${key}`]]);
    misses('fr_nir', ['2 84 12 76 451 089 94', '3 84 12 76 451 089 93']);
  });

  it('custom: named patterns, reported with their name', () => {
    const spans = detectPii('EMP-004512 and MRN 5522109, not emp-004512', { types: ['custom'], custom: CUSTOM });
    expect(spans.map((s) => [s.name, s.text])).toEqual([
      ['employee_id', 'EMP-004512'],
      ['patient_id', 'MRN 5522109'],
    ]);
    expect(detectPii('EMP-004512', { types: ['email'], custom: CUSTOM })).toEqual([]);
  });
});

describe('custom pattern validation', () => {
  const rejects = (p: Partial<CustomPattern>, reason: RegExp) =>
    expect(() => compilePattern({ name: 'x', pattern: 'a', ...p }), JSON.stringify(p)).toThrow(reason);

  it('refuses what could hang or could never match usefully, naming the pattern and the reason', () => {
    rejects({ pattern: '' }, /empty/);
    rejects({ pattern: 'a'.repeat(201) }, /longer than 200/);
    rejects({ pattern: '(a+)+b' }, /nested quantifiers/);
    rejects({ pattern: '(?:\\w+\\s?)*x' }, /nested quantifiers/);
    rejects({ pattern: '((ab)*c){2,}' }, /nested quantifiers/);
    rejects({ pattern: '(a)\\1' }, /backreferences/);
    rejects({ pattern: '^EMP-\\d+' }, /anchors/);
    rejects({ pattern: 'EMP-\\d+$' }, /anchors/);
    rejects({ pattern: '(?<=x)y' }, /lookbehind/);
    rejects({ pattern: '\\d*' }, /empty string/);
    rejects({ pattern: 'a|' }, /empty string/);
    rejects({ pattern: '(' }, /does not compile/);
    rejects({ flags: 'g' }, /flags/);
    rejects({ name: 'Employee ID' }, /name/);
    expect(() => compilePattern({ name: 'x', pattern: '(' })).toThrow(CustomPatternError);
    expect(() => createRedactor({ modes: {}, custom: [CUSTOM[0]!, CUSTOM[0]!] })).toThrow(/used twice/);
  });

  it('accepts simple patterns: word boundaries, classes with ^ and $, an optional group with a quantifier', () => {
    for (const pattern of ['\\bEMP-\\d{6}\\b', '[^\\s]{3}-[$€]\\d+', '(?:[A-Z]{2}-)?\\d{4}', '(?:ab|cd)+x', 'K\\d{2}[ -]?\\d{4}']) {
      expect(() => compilePattern({ name: 'ok', pattern }), pattern).not.toThrow();
    }
  });

  it('is checked when the config is parsed, with the offending entry in the path', () => {
    const r = piiConfigSchema.safeParse({
      custom: [
        { name: 'ok', pattern: 'A\\d+' },
        { name: 'bad', pattern: '(a+)+' },
      ],
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['custom', 1]);
    const d = piiConfigSchema.parse({});
    expect(d.enabled).toBe(false);
    expect(d.modes.email).toBe('placeholder');
    expect(d.apply).toEqual({ upstream: true, memory: true, logs: true });
    // The parsed section is a policy as it stands.
    expect(createRedactor(d).redact('a@x.com, 10.0.0.1').text).toBe('<PII_EMAIL_1>, [IP]');
  });
});

describe('overlaps', () => {
  const span = (type: PiiType, start: number, end: number): PiiSpan => ({ type, start, end, text: 'x'.repeat(end - start) });

  it('keeps the longest, of equal lengths the most specific, in text order', () => {
    expect(resolveOverlaps([span('phone', 0, 11), span('us_ssn', 0, 11), span('ip', 20, 30), span('phone', 18, 33)])).toEqual([
      span('us_ssn', 0, 11),
      span('phone', 18, 33),
    ]);
    expect(resolveOverlaps([span('credit_card', 5, 20), span('fr_nir', 5, 20)])).toEqual([span('fr_nir', 5, 20)]);
    expect(resolveOverlaps([span('custom', 0, 5), span('email', 0, 5), span('ip', 6, 8)])).toEqual([span('custom', 0, 5), span('ip', 6, 8)]);
  });

  it('resolves real overlaps: an SSN is not also a phone, an IPv4-mapped address is one IP', () => {
    const all = { types: PII_TYPES.filter((t) => t !== 'custom') };
    expect(detectPii('SSN 123-45-6789', all).map((s) => s.type)).toEqual(['us_ssn']);
    expect(detectPii('via ::ffff:10.1.2.3 only', all).map((s) => [s.type, s.text])).toEqual([['ip', '::ffff:10.1.2.3']]);
    expect(detectPii('Mail 4155552671@txt.att.net', all).map((s) => s.type)).toEqual(['email']);
  });
});

describe('redactor', () => {
  const text = 'Mail a@x.com or b@y.org, again a@x.com; card 4111 1111 1111 1111; SSN 536-22-8145; EMP-004512.';

  it('mask replaces each value by its tag', () => {
    const r = createRedactor({ modes: { email: 'mask', credit_card: 'mask', us_ssn: 'mask' }, custom: CUSTOM }).redact(text);
    expect(r.text).toBe('Mail [EMAIL] or [EMAIL], again [EMAIL]; card [CREDIT_CARD]; SSN [US_SSN]; [EMPLOYEE_ID].');
    expect(r.counts).toEqual({ email: 3, credit_card: 1, us_ssn: 1, custom: 1 });
    expect(r.blocked).toEqual([]);
  });

  it('placeholder gives each distinct value one stable token and restores them', () => {
    const redactor = createRedactor({ modes: { email: 'placeholder', credit_card: 'mask' }, custom: [{ ...CUSTOM[0]!, mode: 'placeholder' }] });
    const r = redactor.redact(text);
    expect(r.text).toBe('Mail <PII_EMAIL_1> or <PII_EMAIL_2>, again <PII_EMAIL_1>; card [CREDIT_CARD]; SSN 536-22-8145; <PII_EMPLOYEE_ID_1>.');
    const vault = createPlaceholderVault();
    const again = redactor.redact(text, vault);
    expect(again.text).toBe(r.text);
    expect(vault.restore('Sent to <PII_EMAIL_2> and <PII_EMAIL_1>, not <PII_EMAIL_9>; <PII_EMPLOYEE_ID_1> ok')).toBe(
      'Sent to b@y.org and a@x.com, not <PII_EMAIL_9>; EMP-004512 ok',
    );
    expect(vault.restore(again.text)).toBe(text.replace('4111 1111 1111 1111', '[CREDIT_CARD]'));
  });

  it('block reports the types (never the values) and masks them all the same; the error is a 400 pii_blocked', () => {
    const redactor = createRedactor({ modes: { email: 'placeholder', us_ssn: 'block', credit_card: 'block' } });
    const r = redactor.redact(text);
    expect(r.blocked).toEqual([{ type: 'credit_card' }, { type: 'us_ssn' }]);
    expect(r.text).toContain('[US_SSN]');
    const err = piiBlockedError(r.blocked);
    expect(err.status).toBe(400);
    expect(err.code).toBe('pii_blocked');
    expect(err.message).toContain('credit_card, us_ssn');
    expect(err.message).not.toContain('536');
    const custom = createRedactor({ modes: {}, custom: [{ ...CUSTOM[0]!, mode: 'block' }] }).redact('EMP-004512');
    expect(custom.blocked).toEqual([{ type: 'custom', name: 'employee_id' }]);
    expect(piiBlockedError(custom.blocked).message).toContain('employee_id');
  });

  it('mask() masks every configured type whatever its mode (memory, logs); untouched types stay', () => {
    const redactor = createRedactor({ modes: { email: 'placeholder', us_ssn: 'block' }, custom: CUSTOM });
    expect(redactor.mask(text)).toBe('Mail [EMAIL] or [EMAIL], again [EMAIL]; card 4111 1111 1111 1111; SSN [US_SSN]; [EMPLOYEE_ID].');
    expect(redactor.types).toEqual(['email', 'us_ssn', 'custom']);
    expect(redactor.mask('nothing here')).toBe('nothing here');
  });

  it('redactMessages redacts string contents and text parts with one vault, leaves other parts and the input alone', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'I am a@x.com' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Also a@x.com and b@y.org' },
          { type: 'image_url', image_url: { url: 'https://img.example.com/a@x.com.png' } },
        ],
      },
      { role: 'assistant', content: null, tool_calls: [{ id: '1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    ];
    const before = structuredClone(messages);
    const r = createRedactor({ modes: { email: 'placeholder' } }).redactMessages(messages);
    expect(messages).toEqual(before);
    expect(r.messages[0]).toBe(messages[0]);
    expect(r.messages[3]).toBe(messages[3]);
    expect(r.messages[1]!.content).toBe('I am <PII_EMAIL_1>');
    const parts = r.messages[2]!.content as Array<Record<string, unknown>>;
    expect(parts[0]).toEqual({ type: 'text', text: 'Also <PII_EMAIL_1> and <PII_EMAIL_2>' });
    expect(parts[1]).toBe((messages[2]!.content as unknown[])[1]);
    expect(r.counts).toEqual({ email: 3 });
    expect(r.vault.size).toBe(2);
    expect(r.vault.get('<PII_EMAIL_2>')).toBe('b@y.org');
  });
});

describe('stream restorer', () => {
  const vault = createPlaceholderVault();
  vault.tokenFor('EMAIL', 'a@x.com');
  vault.tokenFor('EMAIL', 'b@y.org');
  vault.tokenFor('EMPLOYEE_ID', 'EMP-004512');
  for (let i = 0; i < 10; i++) vault.tokenFor('PHONE', `+1 555 000 00${i}0`); // makes <PII_PHONE_10>, two digits
  const answer = 'Write <PII_EMAIL_1> (or <PII_EMAIL_2>)<PII_EMAIL_1>; <PII_EMPLOYEE_ID_1> at <PII_PHONE_10>. a < b, <PII_EMAIL_9>, <PII_X <PII_EMAIL_';
  const expected = vault.restore(answer);
  const max = vault.maxTokenLength;

  /** Output so far must be the restored form of a prefix of the input that lags it by less than the longest token. */
  const lagsLessThanAToken = (emitted: string, consumed: number) => {
    for (let k = consumed; k > consumed - max && k >= 0; k--) if (vault.restore(answer.slice(0, k)) === emitted) return true;
    return false;
  };

  it('restores placeholders split at every position into two and three chunks', () => {
    for (let i = 0; i <= answer.length; i++) {
      const r = createStreamRestorer(vault);
      const first = r.push(answer.slice(0, i));
      expect(lagsLessThanAToken(first, i), `split at ${i}`).toBe(true);
      expect(first + r.push(answer.slice(i)) + r.flush(), `split at ${i}`).toBe(expected);
    }
    for (let i = 0; i <= answer.length; i += 1) {
      for (let j = i; j <= answer.length; j += 3) {
        const r = createStreamRestorer(vault);
        const out = r.push(answer.slice(0, i)) + r.push(answer.slice(i, j)) + r.push(answer.slice(j)) + r.flush();
        expect(out, `split at ${i}, ${j}`).toBe(expected);
      }
    }
  });

  it('restores a character-at-a-time stream, holding back less than one token at every step', () => {
    const r = createStreamRestorer(vault);
    let out = '';
    for (let i = 0; i < answer.length; i++) {
      out += r.push(answer[i]!);
      expect(lagsLessThanAToken(out, i + 1), `after ${i + 1} characters`).toBe(true);
    }
    expect(out + r.flush()).toBe(expected);
  });

  it('passes text through at once when nothing can start a token, and with an empty vault', () => {
    const r = createStreamRestorer(vault);
    expect(r.push('plain text, a < b and <b>bold</b>')).toBe('plain text, a < b and <b>bold</b>');
    expect(r.push('<PII_EMAIL_')).toBe('');
    expect(r.push('9>')).toBe('<PII_EMAIL_9>');
    expect(r.push('<PII_EMAIL_1')).toBe('');
    expect(r.push('x')).toBe('<PII_EMAIL_1x');
    expect(r.push('<PII_EMAIL_1')).toBe('');
    expect(r.flush()).toBe('<PII_EMAIL_1');
    const empty = createStreamRestorer(createPlaceholderVault());
    expect(empty.push('<PII_EMAIL_')).toBe('<PII_EMAIL_');
    expect(empty.flush()).toBe('');
  });
});

// ---------------------------------------------------------------- labelled fixtures

interface Labelled {
  text: string;
  spans: Array<{ type: PiiType; text: string }>;
}

/** Per-type precision and recall over a labelled file, as test/eval/pii.mjs computes them. */
function score(file: string) {
  const lines: Labelled[] = readFileSync(join(fixtures, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
  const stats = Object.fromEntries(PII_TYPES.map((t) => [t, { tp: 0, fp: 0, fn: 0 }])) as Record<PiiType, { tp: number; fp: number; fn: number }>;
  for (const l of lines) {
    const gold = new Map<string, number>();
    for (const s of l.spans) gold.set(`${s.type}\u0000${s.text}`, (gold.get(`${s.type}\u0000${s.text}`) ?? 0) + 1);
    for (const p of detectPii(l.text, { types: PII_TYPES, custom: CUSTOM })) {
      const k = `${p.type}\u0000${p.text}`;
      const left = gold.get(k) ?? 0;
      if (left > 0) {
        gold.set(k, left - 1);
        stats[p.type].tp++;
      } else stats[p.type].fp++;
    }
    for (const [k, n] of gold) stats[k.split('\u0000')[0] as PiiType].fn += n;
  }
  const total = Object.values(stats).reduce((a, s) => ({ tp: a.tp + s.tp, fp: a.fp + s.fp, fn: a.fn + s.fn }), { tp: 0, fp: 0, fn: 0 });
  const pr = (s: { tp: number; fp: number; fn: number }) => ({ precision: s.tp / (s.tp + s.fp), recall: s.tp / (s.tp + s.fn), ...s });
  return { lines, perType: Object.fromEntries(PII_TYPES.map((t) => [t, pr(stats[t])])) as Record<PiiType, ReturnType<typeof pr>>, all: pr(total) };
}

describe('labelled fixtures', () => {
  it('labelled.jsonl: at least 300 messages, 25 positives per type, 80 without PII', () => {
    const { lines } = score('labelled.jsonl');
    expect(lines.length).toBeGreaterThanOrEqual(300);
    expect(lines.filter((l) => l.spans.length === 0).length).toBeGreaterThanOrEqual(80);
    for (const t of PII_TYPES) expect(lines.flatMap((l) => l.spans).filter((s) => s.type === t).length, t).toBeGreaterThanOrEqual(25);
    for (const l of lines) for (const s of l.spans) expect(l.text, s.text).toContain(s.text);
  });

  // Measured 1.000 / 1.000 per type but email recall 0.985 (the spelled-out "john dot doe at gmail dot com");
  // the set shaped the detectors, so the bounds leave room for about two errors per type and no more.
  it('labelled.jsonl: precision and recall per type stay at or above 0.95', () => {
    const { perType } = score('labelled.jsonl');
    for (const t of PII_TYPES) {
      expect(perType[t].precision, `${t} precision ${JSON.stringify(perType[t])}`).toBeGreaterThanOrEqual(0.95);
      expect(perType[t].recall, `${t} recall ${JSON.stringify(perType[t])}`).toBeGreaterThanOrEqual(0.95);
    }
  });

  // Written after the detectors and never tuned on: measured precision 0.911 (three version-like quads
  // read as IPs, one order reference passing Luhn), recall 1.000. Too few spans per type for per-type bounds.
  it('heldout.jsonl: overall precision ≥ 0.85 and recall ≥ 0.95', () => {
    const { all } = score('heldout.jsonl');
    expect(all.precision, JSON.stringify(all)).toBeGreaterThanOrEqual(0.85);
    expect(all.recall, JSON.stringify(all)).toBeGreaterThanOrEqual(0.95);
  });
});
