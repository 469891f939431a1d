/** See pdf.mjs. */
export function makePdf(pages: string[][], opts?: { title?: string; fontSize?: number; leading?: number }): Buffer;
