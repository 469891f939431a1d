import { describe, expect, it } from 'vitest';
import { inRanges, parseTimeRanges } from '../../src/memory/episodic/time.js';

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const show = (q: string) => parseTimeRanges(q).map((r) => (r.monthOnly !== undefined ? `month ${r.monthOnly + 1}` : `${iso(r.from)}..${iso(r.to)}`));

describe('dates named in a question', () => {
  it('reads days, months and years in the usual spellings', () => {
    expect(show('What did we discuss on 11 December, 2023?')).toEqual(['2023-12-11..2023-12-12']);
    expect(show('What painting did she show on October 13, 2023?')).toEqual(['2023-10-13..2023-10-14']);
    expect(show('as mentioned on 3rd June 2023')).toEqual(['2023-06-03..2023-06-04']);
    expect(show('on 2023-05-08?')).toEqual(['2023-05-08..2023-05-09']);
    expect(show('Which city did John recommend in January 2024?')).toEqual(['2024-01-01..2024-02-01']);
    expect(show('When did Melanie go camping in June?')).toEqual(['month 6']);
    expect(show('What charity event did John organize in 2024?')).toEqual(['2024-01-01..2025-01-01']);
    expect(show('Between 1 May 2023 and 2 June 2023?')).toEqual(['2023-05-01..2023-05-02', '2023-06-02..2023-06-03']);
  });

  it('ignores words that only look like months, and relative time', () => {
    expect(show('May I ask what you did last week?')).toEqual([]);
    expect(show('Did she march in the parade yesterday?')).toEqual([]);
    expect(show('What happened?')).toEqual([]);
  });

  it('matches instants inside a range, and a bare month in any year', () => {
    const [day] = parseTimeRanges('on 13 October, 2023');
    expect(day && inRanges([day], Date.parse('2023-10-13T23:59:00Z'))).toBe(true);
    expect(day && inRanges([day], Date.parse('2023-10-14T00:00:00Z'))).toBe(false);
    const june = parseTimeRanges('in June');
    expect(inRanges(june, Date.parse('2021-06-30T10:00:00Z'))).toBe(true);
    expect(inRanges(june, Date.parse('2021-07-01T10:00:00Z'))).toBe(false);
  });
});
