import { readFile } from 'node:fs/promises';
import { Parser } from 'htmlparser2';
import mammoth from 'mammoth';
import { htmlToMarkdown } from './html.js';
import { type ParsedDocument, ParseError, type ParseLimits, reason, SUPPORTED, withinChars, withText } from './types.js';
import { inspectZip } from './zip.js';

/**
 * Word documents: the zip is checked for bombs first (zip.ts), then mammoth turns the document into
 * HTML, which goes through the same converter as uploaded HTML so headings, lists and tables keep
 * their structure. (mammoth's own markdown output is deprecated.)
 */

const MAIN_PART = 'word/document.xml';
const CORE_PART = 'docProps/core.xml';

/** The text of the first <dc:title> in docProps/core.xml, entities decoded. */
export function coreTitle(xml: string): string | undefined {
  let inTitle = false;
  let title = '';
  const parser = new Parser(
    {
      onopentag: (name) => {
        if (name === 'dc:title') inTitle = true;
      },
      onclosetag: (name) => {
        if (name === 'dc:title') inTitle = false;
      },
      ontext: (text) => {
        if (inTitle) title += text;
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.end(xml);
  return title.trim() || undefined;
}

/** Images are not indexed; an empty src stops mammoth from base64-encoding every one into the HTML. */
const dropImages = mammoth.images.imgElement(async () => ({ src: '' }));

export async function parseDocx(path: string, filename: string, limits: ParseLimits): Promise<ParsedDocument> {
  const zip = await inspectZip(path, filename, limits.maxUnzippedBytes, [CORE_PART]);
  if (!zip.names.has(MAIN_PART)) {
    throw new ParseError(`${filename} is a zip archive but not a Word .docx (it has no ${MAIN_PART}); ${SUPPORTED}`, 415, 'unsupported_file_type');
  }
  let html: string;
  try {
    const result = await mammoth.convertToHtml({ buffer: await readFile(path) }, { convertImage: dropImages, externalFileAccess: false });
    html = result.value;
  } catch (err) {
    throw new ParseError(`${filename} is not a readable .docx: ${reason(err)}`, 422, 'unparseable_file');
  }
  const { text } = htmlToMarkdown(html);
  withText(filename, text, ' (only images or empty pages?)');
  const core = zip.kept.get(CORE_PART);
  const title = core === undefined ? undefined : coreTitle(core.toString('utf8'));
  return { format: 'docx', text: withinChars(filename, text, limits), ...(title === undefined ? {} : { title }) };
}
