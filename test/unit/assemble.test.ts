import { describe, expect, it } from 'vitest';
import { assembleContext } from '../../src/context/assemble.js';
import { dayHeading, episodicCandidates } from '../../src/context/stages/episodic.js';
import type { AssemblyInput, Candidate } from '../../src/context/types.js';
import type { EpisodicHit } from '../../src/memory/episodic/search.js';
import { toNewTurn, type Turn, turnKey } from '../../src/memory/turns.js';
import type { ChatMessage } from '../../src/providers/types.js';
import { getTokenizer, REPLY_PRIMING_TOKENS } from '../../src/tokens/tokenizer.js';

const tok = getTokenizer('cl100k_base');
const turn = (seq: number, m: ChatMessage, createdAt = new Date(0).toISOString()): Turn => ({ ...toNewTurn(m, tok), seq, createdAt });
const ask: ChatMessage = { role: 'user', content: 'What did we decide?' };
const fixedCost = tok.countMessage(ask) + REPLY_PRIMING_TOKENS;
const HEADINGS = { facts: 'Facts:', summary: 'Summary:', episodic: 'Earlier:', documents: 'Documents:' };

function input(over: Partial<AssemblyInput>): AssemblyInput {
  return {
    tokenizer: tok,
    budget: 10_000,
    system: [],
    messages: [ask],
    history: [],
    sessionId: 's1',
    candidates: {},
    shares: { facts: 0.1, summary: 0.15, recent: 0.35, episodic: 0.3, documents: 0.1 },
    minRecentTurns: 0,
    headings: HEADINGS,
    ...over,
  };
}

/** What a prompt costs, counted from scratch: the assembler's own total must equal it. */
const promptCost = (messages: ChatMessage[]) => messages.reduce((s, m) => s + tok.countMessage(m), 0) + REPLY_PRIMING_TOKENS;

function hit(seq: number, text: string, score: number, createdAt = '2023-05-08T13:56:00Z', sessionId = 's1'): EpisodicHit {
  return { turn: { ...turn(seq, { role: 'user', content: text, name: 'Caroline' }, createdAt), sessionId }, score, via: 'both' };
}

describe('assembleContext: history', () => {
  const turns = [
    turn(1, { role: 'user', content: 'one two three' }),
    turn(2, { role: 'assistant', content: 'four five six' }),
    turn(3, { role: 'user', content: 'seven eight nine' }),
    turn(4, { role: 'assistant', content: 'ten eleven twelve' }),
  ];
  const cost = (t: Turn) => t.tokenCount;

  it('replays the newest turns that fit, oldest first, counted exactly', () => {
    const budget = fixedCost + cost(turns[3] as Turn) + cost(turns[2] as Turn);
    const out = assembleContext(input({ budget, history: turns }));
    expect(out.messages.map((m) => m.content)).toEqual(['seven eight nine', 'ten eleven twelve', 'What did we decide?']);
    expect(out.tokens.total).toBe(budget);
    expect(out.tokens.total).toBe(promptCost(out.messages));
    expect(assembleContext(input({ budget: budget - 1, history: turns })).historyTurns).toBe(1);
    expect(assembleContext(input({ budget: fixedCost, history: turns })).historyTurns).toBe(0);
    expect(assembleContext(input({ history: turns })).historyTurns).toBe(4);
  });

  it('keeps the last exchange even when the recent share is smaller', () => {
    const out = assembleContext(input({ budget: 200, history: turns, shares: { facts: 0, summary: 0, recent: 0, episodic: 0, documents: 0 }, minRecentTurns: 2 }));
    expect(out.items.filter((i) => i.section === 'recent').map((i) => i.seq)).toEqual([3, 4]);
    // Older turns take what is left after the other sections.
    expect(out.items.filter((i) => i.section === 'older').map((i) => i.seq)).toEqual([1, 2]);
  });

  it('never starts with a tool result whose call was cut off', () => {
    const withTool = [
      turn(1, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }),
      turn(2, { role: 'tool', tool_call_id: 'c', content: 'result' }),
      turn(3, { role: 'user', content: 'ok' }),
    ];
    const budget = fixedCost + (withTool[1] as Turn).tokenCount + (withTool[2] as Turn).tokenCount;
    const out = assembleContext(input({ budget, history: withTool }));
    expect(out.messages.map((m) => m.role)).toEqual(['user', 'user']);
    expect(out.tokens.recent + out.tokens.older).toBe((withTool[2] as Turn).tokenCount);
  });

  it('recounts turns stored with another encoding', () => {
    const o200 = { ...(turns[0] as Turn), tokenEncoding: 'o200k_base' as const, tokenCount: 999 };
    expect(assembleContext(input({ history: [o200] })).tokens.recent).toBe(tok.countMessage({ role: 'user', content: 'one two three' }));
  });
});

describe('assembleContext: retrieved sections', () => {
  const history = Array.from({ length: 40 }, (_, i) => turn(i + 1, { role: i % 2 ? 'assistant' : 'user', content: `turn number ${i + 1} about topic ${i % 7}` }));

  it('fills the episodic share best first, renders it oldest first under day headings, and reports provenance', () => {
    const hits = [hit(3, 'I went to a support group yesterday.', 0.9, '2023-05-08T13:56:00Z'), hit(9, 'I painted a sunrise.', 0.5, '2023-06-01T10:00:00Z'), hit(5, 'Adoption agencies called back.', 0.7, '2023-05-08T13:56:00Z')];
    const out = assembleContext(input({ budget: 400, history, candidates: { episodic: episodicCandidates(hits) }, minRecentTurns: 2 }));
    const block = out.messages.find((m) => m.role === 'system')?.content as string;
    expect(block.split('\n')).toEqual([
      'Earlier:',
      dayHeading('2023-05-08T13:56:00Z'),
      'Caroline: I went to a support group yesterday.',
      'Caroline: Adoption agencies called back.',
      dayHeading('2023-06-01T10:00:00Z'),
      'Caroline: I painted a sunrise.',
    ]);
    expect(dayHeading('2023-05-08T13:56:00Z')).toBe('[Mon 8 May 2023]');
    const episodic = out.items.filter((i) => i.section === 'episodic');
    expect(episodic.map((i) => i.seq)).toEqual([3, 5, 9]);
    expect(episodic[0]).toMatchObject({ kind: 'turn', id: 'turn:s1:3', score: 0.9, via: 'both' });
    expect(out.tokens.episodic).toBe(tok.countMessage({ role: 'system', content: block }));
    expect(out.tokens.total).toBe(promptCost(out.messages));
    expect(out.tokens.total).toBeLessThanOrEqual(400);
  });

  it('does not repeat a retrieved turn that is already replayed as history', () => {
    const hits = [hit(40, 'turn number 40 about topic 4', 0.9), hit(2, 'an old one', 0.8)];
    const out = assembleContext(input({ budget: 300, history, candidates: { episodic: episodicCandidates(hits) }, minRecentTurns: 2 }));
    expect(out.items.filter((i) => i.section === 'episodic').map((i) => i.seq)).toEqual([2]);
    // ...nor replay as an older turn what the episodic block already holds.
    const replayed = out.items.filter((i) => i.section !== 'episodic').map((i) => i.seq);
    expect(replayed).not.toContain(2);
  });

  it("keeps long-term memory's unused share with the retrieved sections, not the recent turns", () => {
    const hits = Array.from({ length: 60 }, (_, i) => hit(i + 100, `memory number ${i} with some words in it`, 1 - i / 100));
    const shares = { facts: 0.2, summary: 0.2, recent: 0.2, episodic: 0.2, documents: 0 };
    const out = assembleContext(input({ budget: 1200, history, candidates: { episodic: episodicCandidates(hits) }, shares }));
    const room = 1200 - fixedCost;
    // No facts or summary: their 0.4 goes to episodic memories (0.6 in all), while recent turns keep 0.2.
    expect(out.tokens.recent).toBeLessThanOrEqual(0.2 * room);
    expect(out.tokens.episodic).toBeGreaterThan(0.4 * room);
    // ...plus whatever the recent turns left of their own share.
    expect(out.tokens.episodic).toBeLessThanOrEqual(0.6 * room + (0.2 * room - out.tokens.recent) + 1);
    expect(out.tokens.total).toBeLessThanOrEqual(1200);
  });

  it('passes unused share on: an empty section leaves its tokens to the next', () => {
    const many = Array.from({ length: 60 }, (_, i) => hit(i + 100, `memory number ${i} with some words in it`, 1 - i / 100));
    const shares = { facts: 0.5, summary: 0, recent: 0, episodic: 0.2, documents: 0 };
    const withFacts = assembleContext(input({ budget: 1000, candidates: { episodic: episodicCandidates(many) }, shares }));
    // Facts are empty here, so the episodic section may use the facts share as well (0.7 of the room).
    const room = 1000 - fixedCost;
    expect(withFacts.tokens.episodic).toBeGreaterThan(0.5 * room);
    expect(withFacts.tokens.episodic).toBeLessThanOrEqual(0.7 * room + 1);
  });

  it('is never over budget: every budget from tiny to large, exact recount', () => {
    const candidates: Candidate[] = episodicCandidates(
      Array.from({ length: 80 }, (_, i) => hit(i + 1, `Memory ${i}: ${'word '.repeat(1 + ((i * 7) % 23))}ünïcödé 🙂`, Math.random(), new Date(Date.UTC(2023, 0, 1 + (i % 30))).toISOString())),
    );
    const system: ChatMessage[] = [{ role: 'system', content: 'You are helpful.' }];
    for (let budget = 20; budget < 3000; budget += 37) {
      const out = assembleContext(input({ budget, system, history, candidates: { episodic: candidates }, minRecentTurns: 2 }));
      expect(out.tokens.total).toBe(promptCost(out.messages));
      expect(out.tokens.total).toBeLessThanOrEqual(Math.max(budget, tok.countMessage(system[0] as ChatMessage) + fixedCost));
      const sum = out.items.reduce((s, i) => s + (i.section === 'episodic' ? 0 : i.tokens), 0);
      expect(sum).toBe(out.tokens.recent + out.tokens.older);
    }
  });

  it('is pure: the same input gives the same prompt', () => {
    const cands = episodicCandidates([hit(3, 'a', 0.5), hit(9, 'b', 0.4)]);
    const a = assembleContext(input({ budget: 300, history, candidates: { episodic: cands } }));
    const b = assembleContext(input({ budget: 300, history, candidates: { episodic: cands } }));
    expect(b).toEqual(a);
    expect(turnKey('s1', 3)).toBe(cands[0]?.turnKey);
  });
});

describe('assembleContext: the session summary', () => {
  const turns = Array.from({ length: 8 }, (_, i) => turn(i + 3, { role: i % 2 ? 'assistant' : 'user', content: `turn number ${i + 3} says something` }));
  const summary = { version: 2, fromSeq: 1, toSeq: 6, text: 'Ann moved to Lyon in May; the budget is 40k.' };

  it('replays exactly the turns after the summary: none summarised and replayed, none between', () => {
    const out = assembleContext(input({ history: turns, summary }));
    const replayed = out.items.filter((i) => i.kind === 'turn').map((i) => i.seq);
    expect(replayed).toEqual([7, 8, 9, 10]);
    expect(out.messages[0]).toEqual({ role: 'system', content: `Summary:\n${summary.text}` });
    expect(out.items.find((i) => i.kind === 'summary')).toMatchObject({ id: 'summary:s1:2', section: 'summary', version: 2, from_seq: 1, to_seq: 6 });
    expect(out.tokens.summary).toBe(tok.countMessage(out.messages[0] as ChatMessage));
    expect(out.tokens.total).toBe(promptCost(out.messages));
  });

  it('replays the whole tail when it fits the recent share, and goes without the summary when it does not', () => {
    const tailCost = turns.filter((t) => t.seq > 6).reduce((s, t) => s + t.tokenCount, 0);
    const summaryCost = tok.countMessage({ role: 'system', content: `Summary:\n${summary.text}` });
    const budget = 4 * (fixedCost + summaryCost + tailCost);
    const available = budget - fixedCost;
    const fitting = { facts: 0, summary: 0.5, recent: (tailCost + 1) / available, episodic: 0, documents: 0 };
    const fits = assembleContext(input({ history: turns, summary, shares: fitting, budget }));
    expect(fits.items.filter((i) => i.kind === 'turn').map((i) => i.seq)).toEqual([7, 8, 9, 10]);
    expect(fits.tokens.summary).toBe(summaryCost);
    const tight = assembleContext(input({ history: turns, summary, shares: { ...fitting, recent: (tailCost - 1) / available }, budget }));
    expect(tight.tokens.summary).toBe(0);
    expect(tight.items.some((i) => i.kind === 'summary')).toBe(false);
    expect(tight.items.filter((i) => i.kind === 'turn').length).toBeGreaterThan(0);
    // And never over the budget: summary and tail must fit what is left.
    const small = assembleContext(input({ history: turns, summary, shares: { ...fitting, recent: 1 }, budget: fixedCost + summaryCost + tailCost - 1 }));
    expect(small.tokens.summary).toBe(0);
  });

  it('gives what older turns cannot use behind a summary to retrieved memories', () => {
    const memories: Candidate[] = Array.from({ length: 60 }, (_, i) => ({
      section: 'episodic',
      text: `memory line ${i} about the garden and the kitchen`,
      order: i,
      score: 100 - i,
      provenance: { kind: 'turn', id: `turn:old:${i}` },
    }));
    const shares = { facts: 0, summary: 0.3, recent: 0.5, episodic: 0.1, documents: 0 };
    const budget = 700;
    const out = assembleContext(input({ history: turns, summary, shares, budget, candidates: { episodic: memories } }));
    expect(out.tokens.summary).toBeGreaterThan(0);
    expect(out.tokens.episodic).toBeGreaterThan(Math.floor(0.1 * (budget - fixedCost)));
    expect(out.tokens.older).toBe(0);
    expect(out.tokens.total).toBeLessThanOrEqual(budget);
    expect(budget - out.tokens.total).toBeLessThan(20);
  });

  it('goes without a summary that ends before the replayable history begins (a gap) or covers all of it', () => {
    const gap = assembleContext(input({ history: turns, summary: { ...summary, toSeq: 1 } }));
    expect(gap.tokens.summary).toBe(0);
    expect(gap.items.filter((i) => i.kind === 'turn').map((i) => i.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    const all = assembleContext(input({ history: turns, summary: { ...summary, toSeq: 10 } }));
    expect(all.tokens.summary).toBe(0);
    expect(all.historyTurns).toBe(8);
  });
});
