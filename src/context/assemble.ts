import { replayMessage, type Turn, turnKey, turnTokens } from '../memory/turns.js';
import type { ChatMessage } from '../providers/types.js';
import { REPLY_PRIMING_TOKENS } from '../tokens/tokenizer.js';
import { type AssembledContext, type AssemblyInput, type Candidate, type Provenance, RETRIEVED_SECTIONS, type RetrievedSection } from './types.js';

/** One retrieved section being filled: what is in it and what it costs so far. */
interface Block {
  section: RetrievedSection;
  items: Array<{ c: Candidate; tokens: number }>;
  groups: Set<string>;
  tokens: number;
}

/** Candidates tried after the first that did not fit, before a section is considered full. */
const MAX_MISSES = 12;
/** Room below which no line fits (a speaker, a word, the newline). */
const MIN_LINE_TOKENS = 4;

/** The citation marker a cited item's line starts with. */
const marker = (n: number) => `[${n}] `;

const turnId = (sessionId: string | undefined, seq: number) => `turn:${sessionId ?? ''}:${seq}`;

/**
 * Builds the prompt from what the stages gathered, within `budget` tokens. Pure: same input, same
 * prompt. Sections are filled in priority order (facts, summary, recent turns, episodic memories,
 * documents, older turns), each up to its share of what the always-included system prompt and new
 * messages leave; what a section does not use flows to the next (facts' and summary's to the
 * retrieved sections, past the recent turns), and older turns take the rest.
 * Counts are exact for the tokenizer: per-item costs guide the filling, and the finished prompt is
 * counted again and trimmed, lowest-scored retrieved item first, if framing made it any larger.
 */
export function assembleContext(input: AssemblyInput): AssembledContext {
  const { tokenizer } = input;
  const systemTokens = sum(input.system.map((m) => tokenizer.countMessage(m)));
  const messageTokens = sum(input.messages.map((m) => tokenizer.countMessage(m))) + REPLY_PRIMING_TOKENS;
  const available = Math.max(0, input.budget - systemTokens - messageTokens);

  let remaining = available;
  let carry = 0;
  const take = (share: number): number => Math.min(remaining, Math.floor(share * available) + carry);
  const spend = (cap: number, used: number) => {
    remaining -= used;
    carry = cap - used;
  };

  const blocks = new Map<RetrievedSection, Block>();
  const history = input.history;
  // Which history turns are replayed, by index (a flag per turn: cheaper than a Set on the hot path).
  const replayed = new Uint8Array(history.length);
  let recentStart = history.length;
  // The recent turns' keys, for leaving out retrieved memories that are replayed anyway; built only
  // when a section has candidates (most requests have none).
  let inHistory: { from: number; keys: Set<string> } | undefined;
  const replayedKeys = (): Set<string> => {
    if (inHistory?.from !== recentStart) {
      inHistory = { from: recentStart, keys: new Set(input.sessionId ? history.slice(recentStart).map((t) => turnKey(input.sessionId as string, t.seq)) : []) };
    }
    return inHistory.keys;
  };

  /** Fills a section up to `cap` tokens in all (continuing a block already filled); returns the tokens added. */
  const fillBlock = (section: RetrievedSection, cap: number): number => {
    const candidates = input.candidates[section];
    if (!candidates || candidates.length === 0) return 0;
    const block: Block = blocks.get(section) ?? { section, items: [], groups: new Set(), tokens: 0 };
    const before = block.tokens;
    const taken = new Set(block.items.map((i) => i.c));
    const headingCost = tokenizer.countMessage({ role: 'system', content: input.headings[section] });
    let misses = 0;
    for (const c of candidates) {
      // Past the first item that did not fit, a few smaller ones may still fill the gap; then stop
      // (counting every remaining candidate would cost more than the tokens it could save).
      if (misses >= MAX_MISSES || cap - block.tokens < MIN_LINE_TOKENS) break;
      if (taken.has(c) || (c.turnKey && replayedKeys().has(c.turnKey))) continue;
      const lineCost = tokenizer.count(c.cite ? `${marker(block.items.length + 1)}${c.text}` : c.text) + 1;
      const groupCost = c.group !== undefined && !block.groups.has(c.group) ? tokenizer.count(c.group) + 1 : 0;
      const cost = lineCost + groupCost + (block.items.length === 0 ? headingCost : 0);
      if (block.tokens + cost > cap) {
        misses++;
        continue;
      }
      block.items.push({ c, tokens: lineCost });
      if (c.group !== undefined) block.groups.add(c.group);
      block.tokens += cost;
    }
    if (block.items.length > 0) blocks.set(section, block);
    return block.tokens - before;
  };

  {
    const cap = take(input.shares.facts);
    spend(cap, fillBlock('facts', cap));
  }
  // The summary goes in only with every turn after it: its tail must be in `history` and fit the
  // recent turns' share (so a summary never takes room from retrieved memories beyond its own share).
  let summarized = 0;
  {
    const cap = take(input.shares.summary);
    let used = 0;
    const s = input.summary;
    const first = history[0];
    if (s && first && first.seq <= s.toSeq + 1 && s.toSeq < (history[history.length - 1] as Turn).seq) {
      const candidate: Candidate = {
        section: 'summary',
        text: s.text,
        order: 0,
        score: 1,
        provenance: { kind: 'summary', id: `summary:${input.sessionId ?? ''}:${s.version}`, session_id: input.sessionId, version: s.version, from_seq: s.fromSeq, to_seq: s.toSeq },
      };
      const cost = tokenizer.countMessage({ role: 'system', content: `${input.headings.summary}\n${s.text}` });
      let tail = 0;
      for (const t of history) if (t.seq > s.toSeq) tail += turnTokens(t, tokenizer);
      if (cost <= cap && tail <= Math.floor(input.shares.recent * available) && cost + tail <= remaining) {
        blocks.set('summary', { section: 'summary', items: [{ c: candidate, tokens: cost }], groups: new Set(), tokens: cost });
        used = cost;
        summarized = s.toSeq;
      }
    }
    spend(cap, used);
  }
  // What long-term memory (facts, summary) leaves unused stays with long-term memory: it skips the
  // recent turns and goes to the retrieved sections, so a deployment without facts or summaries
  // keeps the balance its shares set between recent turns and memories.
  const memoryCarry = carry;
  carry = 0;

  // Recent turns: newest first within the share, but always the last exchange when it fits at all.
  {
    const cap = take(input.shares.recent);
    let used = 0;
    for (let i = history.length - 1; i >= 0; i--) {
      const t = history[i] as Turn;
      if (t.seq <= summarized) break;
      const cost = turnTokens(t, tokenizer);
      // Every turn after the summary goes (it was checked to fit); without one, the newest that fit.
      const must = history.length - i <= input.minRecentTurns || summarized > 0;
      if (used + cost > (must ? remaining : cap)) break;
      used += cost;
      recentStart = i;
    }
    replayed.fill(1, recentStart);
    remaining -= used;
    carry = Math.max(0, cap - used) + memoryCarry;
  }

  for (const section of ['episodic', 'documents'] as const) {
    const cap = take(input.shares[section]);
    spend(cap, fillBlock(section, cap));
  }

  // Older turns: the rest of the budget, continuing back from the recent ones.
  const retrievedTurns = new Set<string>();
  for (const b of blocks.values()) for (const { c } of b.items) if (c.turnKey) retrievedTurns.add(c.turnKey);
  for (let i = recentStart - 1; i >= 0; i--) {
    const t = history[i] as Turn;
    if (t.seq <= summarized) break;
    if (retrievedTurns.size > 0 && input.sessionId && retrievedTurns.has(turnKey(input.sessionId, t.seq))) continue;
    const cost = turnTokens(t, tokenizer);
    if (cost > remaining) break;
    remaining -= cost;
    replayed[i] = 1;
  }
  // Behind a summary there are no older turns to replay: the rest goes to retrieved memories.
  if (summarized > 0) {
    const episodicTokens = blocks.get('episodic')?.tokens ?? 0;
    remaining -= fillBlock('episodic', episodicTokens + remaining);
  }

  // Render, count exactly, and trim while over (framing the estimates did not see).
  for (;;) {
    const out = render(input, blocks, replayed, recentStart, systemTokens, messageTokens);
    if (out.tokens.total <= input.budget || !dropWorst(blocks)) return out;
  }
}

function render(input: AssemblyInput, blocks: Map<RetrievedSection, Block>, replayed: Uint8Array, recentStart: number, systemTokens: number, messageTokens: number): AssembledContext {
  const { tokenizer, history, sessionId } = input;
  const tokens = { system: systemTokens, messages: messageTokens, facts: 0, summary: 0, recent: 0, episodic: 0, documents: 0, older: 0, total: 0, budget: input.budget };
  const items: Provenance[] = [];
  const retrieved: ChatMessage[] = [];
  for (const section of RETRIEVED_SECTIONS) {
    const block = blocks.get(section);
    if (!block) continue;
    const lines = [input.headings[section]];
    let group: string | undefined;
    let cited = 0;
    for (const { c, tokens: t } of [...block.items].sort((a, b) => a.c.order - b.c.order)) {
      if (c.group !== undefined && c.group !== group) lines.push(c.group);
      group = c.group;
      if (c.cite) {
        cited++;
        lines.push(`${marker(cited)}${c.text}`);
        items.push({ ...c.provenance, section, citation: cited, tokens: t });
      } else {
        lines.push(c.text);
        items.push({ ...c.provenance, section, tokens: t });
      }
    }
    const message: ChatMessage = { role: 'system', content: lines.join('\n') };
    tokens[section] = tokenizer.countMessage(message);
    retrieved.push(message);
  }

  // Which turns are replayed: the tool results whose call is not in the prompt are left out (the
  // upstream would reject them), by clearing their flag. The prompt's messages then go into one array
  // of its final size: a long session replays ~200 turns on every request, and growing arrays (or
  // spreading them into a last one) was most of what assembly allocated.
  let replays = 0;
  let lastKept: Turn | undefined;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  let recent = 0;
  let older = 0;
  for (let i = 0; i < history.length; i++) {
    if (replayed[i] !== 1) continue;
    const t = history[i] as Turn;
    if (t.role === 'tool' && !(lastKept && (lastKept.role === 'tool' || (lastKept.role === 'assistant' && lastKept.fields?.tool_calls)))) {
      replayed[i] = 0;
      continue;
    }
    lastKept = t;
    if (i >= recentStart) recent += turnTokens(t, tokenizer);
    else older += turnTokens(t, tokenizer);
    firstSeq ??= t.seq;
    lastSeq = t.seq;
    replays++;
  }
  tokens.recent = recent;
  tokens.older = older;
  const messages: ChatMessage[] = new Array(input.system.length + retrieved.length + replays + input.messages.length);
  let at = 0;
  for (const m of input.system) messages[at++] = m;
  for (const m of retrieved) messages[at++] = m;
  for (let i = 0; i < history.length; i++) if (replayed[i] === 1) messages[at++] = replayMessage(history[i] as Turn);
  for (const m of input.messages) messages[at++] = m;

  tokens.total = tokens.system + tokens.messages + tokens.facts + tokens.summary + tokens.recent + tokens.episodic + tokens.documents + tokens.older;
  // Replayed turns are listed in `items` only when someone reads it (POST /v1/context): a chat answer
  // reports the range, and a long session would otherwise build an object per turn per request.
  let all: Provenance[] | undefined;
  return {
    messages,
    tokens,
    retrieved: items,
    get items(): Provenance[] {
      if (all) return all;
      all = [...items];
      for (let i = 0; i < history.length; i++) {
        if (replayed[i] !== 1) continue;
        const t = history[i] as Turn;
        all.push({
          kind: 'turn',
          id: turnId(sessionId, t.seq),
          section: i >= recentStart ? 'recent' : 'older',
          session_id: sessionId,
          seq: t.seq,
          external_id: t.externalId,
          created_at: t.createdAt,
          tokens: turnTokens(t, tokenizer),
        });
      }
      return all;
    },
    historyTurns: replays,
    historyRange: { first_seq: firstSeq, last_seq: lastSeq },
  };
}

/** Removes the lowest-scored retrieved item (lowest-priority section first); false when none is left. */
function dropWorst(blocks: Map<RetrievedSection, Block>): boolean {
  for (const section of [...RETRIEVED_SECTIONS].reverse()) {
    const block = blocks.get(section);
    if (!block || block.items.length === 0) continue;
    let worst = 0;
    block.items.forEach((it, i) => {
      if (it.c.score < (block.items[worst] as { c: Candidate }).c.score) worst = i;
    });
    block.items.splice(worst, 1);
    if (block.items.length === 0) blocks.delete(section);
    return true;
  }
  return false;
}

function sum(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

