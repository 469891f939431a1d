/** Rule `language`: the script and a stopword-based guess of the language. Part of the cache guard (src/cache/guard.ts). */

import type { Token } from './tokens.js';
import { CAP_STOP } from './entities.js';

export const STOPWORDS: Record<string, string> = {
  en: 'a the is are was were what how why when where who which do does did i you my your of and to in it can for with this that should be there will would could have has me from on at or much many get',
  fr: "le la les est et de des du un une que qui quoi quel quelle quels quelles comment pourquoi où je tu il elle nous vous mon ma mes ton ta pour dans sur avec ce cette c' l' d' qu' j' n' s' pas puis combien faire au aux ne sont était va demain aujourd'hui",
  es: 'el la los las es y de que qué cómo como cuál cuáles cuánto cuántos cuántas dónde por para con un una mi mis tu yo del al se son está hay tiene puedo puede llego hoy mañana',
  de: 'der die das ist und wie was wo wer ich du es ein eine einen einem mein meine nicht mit für zu den dem des im in auf hat sind spät viele kann warum welche welcher wann',
  it: "il lo gli le è e di che come cosa dove quando perché un una mio mia per con su si sono della del dello degli posso quanto quanti fa l' c'è",
  pt: 'o a os as é e de que como onde quando por para com um uma meu minha do da dos das em no na qual quanto quantas quantos está são pode posso você tem hoje bom',
};
export const STOP_SETS = Object.entries(STOPWORDS).map(([lang, words]) => [lang, new Set(words.split(' '))] as const);
export const ASCII = /^[\x00-\x7f]*$/;
export const SCRIPTS: Array<[string, RegExp]> = [
  ['latin', /\p{Script=Latin}/gu],
  ['cyrillic', /\p{Script=Cyrillic}/gu],
  ['greek', /\p{Script=Greek}/gu],
  ['han', /\p{Script=Han}/gu],
  ['kana', /[\p{Script=Hiragana}\p{Script=Katakana}]/gu],
  ['hangul', /\p{Script=Hangul}/gu],
  ['arabic', /\p{Script=Arabic}/gu],
  ['hebrew', /\p{Script=Hebrew}/gu],
  ['devanagari', /\p{Script=Devanagari}/gu],
  ['thai', /\p{Script=Thai}/gu],
];

/**
 * Rule `language`: questions in different languages never match (the answer would be in the wrong
 * one). The script decides first (Latin, Cyrillic, Greek, Chinese, Japanese — kana present —, Korean,
 * Arabic, Hebrew, Devanagari, Thai); within Latin script, the most frequent stopwords of en, fr, es,
 * de, it, pt, not counting capitalised names ("Los Angeles", "Rio de Janeiro"). A question too short to
 * tell (fewer than two stopwords of its best language, or a tie) matches any language of its script.
 */
export function detectLanguage(text: string, tokens: Token[]): string | undefined {
  let best = '';
  let bestCount = 0;
  if (ASCII.test(text)) {
    if (!/[a-z]/i.test(text)) return undefined;
    best = 'latin';
    bestCount = 1;
  } else
    for (const [script, re] of SCRIPTS) {
      const n = text.match(re)?.length ?? 0;
      if (n > bestCount) {
        best = script;
        bestCount = n;
      }
    }
  if (bestCount === 0) return undefined;
  if (best === 'han' && /[\p{Script=Hiragana}\p{Script=Katakana}]/u.test(text)) return 'kana';
  if (best !== 'latin') return best;
  const scores = STOP_SETS.map(([lang, set]) => {
    let n = 0;
    for (const t of tokens) if (t.kind === 'word' && (t.start || CAP_STOP.has(t.low) || !/^\p{Lu}/u.test(t.raw)) && set.has(t.low)) n++;
    return [lang, n] as const;
  }).sort((x, y) => y[1] - x[1]);
  const [first, second] = scores;
  if (!first || first[1] < 2 || first[1] === second?.[1]) return 'latin';
  return `latin:${first[0]}`;
}

export function languagesDiffer(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || a === b) return false;
  const [sa, la] = a.split(':');
  const [sb, lb] = b.split(':');
  if (sa !== sb) return true;
  return la !== undefined && lb !== undefined && la !== lb;
}
