import { type ParsedDocument, type ParseLimits, withinChars, withText } from './types.js';

/** Plain text and markdown go to the chunker as they are (the decoder has already dropped a BOM). */

const H1 = /^#[ \t]+(.+?)[ \t]*#*[ \t]*$/m;

/** The first '# ' heading of a markdown text; a code fence before it is not looked into. */
export function markdownTitle(text: string): string | undefined {
  const fence = text.search(/^\s{0,3}(?:```|~~~)/m);
  const match = H1.exec(fence === -1 ? text : text.slice(0, fence));
  return match?.[1]?.trim() || undefined;
}

export function parseText(text: string, format: 'text' | 'markdown', filename: string, limits: ParseLimits): ParsedDocument {
  withText(filename, text);
  const title = format === 'markdown' ? markdownTitle(text) : undefined;
  return { format, text: withinChars(filename, text, limits), ...(title === undefined ? {} : { title }) };
}
