import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The gateway's standard-output logger batches lines (src/observability/logger.ts). A child process
// logs through it: lines come out within the batch time, whole and in order, a few writes for lines
// logged milliseconds apart, and the last lines reach the pipe when the process exits right after.

const SCRIPT = `
import { createLogger } from './src/observability/logger.ts';
const log = createLogger('info');
// 20 lines 3 ms apart: one write per line would be ~20 writes; batched, they leave in one or two.
for (let i = 0; i < 20; i++) setTimeout(() => log.info({ i }, 'spaced'), i * 3);
setTimeout(() => {
  process.stderr.write('marker\\n');
  setTimeout(() => {
    log.info({ i: 20 }, 'last');
    process.exit(0);
  }, 50);
}, 400);
`;

describe('batched stdout logger', () => {
  it('writes lines logged close together in one batch, within the batch time, and the last lines at exit', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    const reads: string[] = [];
    let atMarker: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => reads.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('marker')) atMarker = reads.join('').split('\n').filter(Boolean).length;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    // The lines were out 400 ms after they were logged (the batch time is 100 ms), before the process ended.
    expect(atMarker).toBe(20);
    const lines = reads
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { i: number; msg: string; level: string });
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect(lines.at(-1)).toMatchObject({ msg: 'last', level: 'info' });
    // A pipe read returns what the writes before it put in: the 20 spaced lines and the last one took a few.
    expect(reads.length).toBeLessThanOrEqual(4);
  });
});
