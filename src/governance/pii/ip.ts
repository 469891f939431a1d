/**
 * IP addresses. IPv4 as a dotted quad with every octet 0–255 and no leading zero, not part of a longer
 * dotted run (OIDs, four-part versions such as 10.0.19041.1) and not introduced as a version
 * ("version 1.2.3.4", "v1.2.3.4", "upgraded to 2.4.1.0"), and not a netmask (255.…). Private and loopback addresses count: they
 * still tell which network a user is on, and a redactor cannot know which of them matter.
 * IPv6 in full, compressed (`2001:db8::1`, `fe80::1`, `::1`) and IPv4-mapped forms; a candidate must
 * carry a decimal digit, so `Abc::Def` in a code question is not an address.
 */
import { before, scan } from './scan.js';
import type { PiiSpan } from './types.js';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_RE = new RegExp(`(?<![\\w.\\-])${OCTET}(?:\\.${OCTET}){3}(?![\\w\\-]|\\.\\d)`, 'g');
/** Version cues right before the quad: "v", "version", "release 1.2.3.4", "build: …", "upgraded to …". */
const VERSION_CUE =
  /(?:\bv|\b(?:version|ver|release|rel|build|firmware|fw|patch|sdk|bios|kernel)\b[^\n\d]{0,12}|\b(?:upgraded?|updated?|downgraded?|bumped?|pinned|pin|rolled back|roll back|reverted?) (?:\w+ ){0,2}to )$/i;

export function detectIpv4(text: string): PiiSpan[] {
  // 255.x.x.x is a netmask or a broadcast address, never a host's.
  return scan(text, IPV4_RE, 'ip', (m) => !m[0].startsWith('255.') && !VERSION_CUE.test(before(text, m.index, 40)));
}

/**
 * Hex groups ending in a colon, then an embedded IPv4 (which a port may follow: `::ffff:10.0.0.1:8080`),
 * a last group, or nothing; parsed in `ipv6Valid`.
 */
const IPV6_RE = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}(?![\w.])|[0-9A-Fa-f]{1,4}(?![\w:]|\.\w)|(?![\w:]|\.\w))/g;
const IPV4_TAIL = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** Eight groups, or fewer with exactly one `::`; an embedded IPv4 counts as two groups and comes last. */
export function ipv6Valid(s: string): boolean {
  if (!/\d/.test(s)) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const all = [...head, ...tail];
  let count = all.length;
  const lastGroup = all.at(-1);
  if (lastGroup?.includes('.')) {
    if (!IPV4_TAIL.test(lastGroup)) return false;
    count++;
    all.pop();
  }
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? count <= 7 && count >= 1 : count === 8;
}

export function detectIpv6(text: string): PiiSpan[] {
  return scan(text, IPV6_RE, 'ip', (m) => {
    // A colon closing a sentence ("the address fe80::1:") is punctuation, not a group separator.
    const s = m[0].endsWith(':') && !m[0].endsWith('::') ? m[0].slice(0, -1) : m[0];
    return ipv6Valid(s) ? [m.index, m.index + s.length] : false;
  });
}
