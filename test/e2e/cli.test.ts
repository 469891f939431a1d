import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

// `context-gateway ingest` as a user runs it: a real process (node + tsx on src/cli.ts) against a real
// gateway on Postgres with the real local embedder. A folder with nested, hidden, skipped and empty
// files; the resume file makes the second run upload nothing; a changed file replaces its document.

// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary JSON fields.
type Json = any;

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs the CLI in `cwd` with none of the caller's CONTEXT_GATEWAY_* variables. */
function cli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CONTEXT_GATEWAY_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const GUIDE = `# Guide

## Install

Run the installer and accept the licence. The gateway listens on port 8080.

## Upgrade

Stop the service, replace the binary, start it again. Migrations run on start.
`;

describe('context-gateway CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cgw-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the commands on --help and refuses unknown commands, options and empty inputs with exit 2', async () => {
    await mkdir(join(dir, 'nothing'), { recursive: true });
    await writeFile(join(dir, 'nothing', 'image.png'), 'not a document');
    const [help, unknown, ingestHelp, noCollection, badOption, noFiles] = await Promise.all([
      cli(['--help'], dir),
      cli(['frobnicate'], dir),
      cli(['ingest', '--help'], dir),
      cli(['ingest', 'nothing', '--key', 'k'], dir),
      cli(['ingest', 'nothing', '--collection', 'c', '--key', 'k', '--bogus'], dir),
      cli(['ingest', 'nothing', '--collection', 'c', '--key', 'k', '--url', 'http://127.0.0.1:9', '--state', join(dir, 'unused.json')], dir),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: context-gateway <command>/);
    expect(help.stdout).toMatch(/^ {2}ingest +upload/m);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(ingestHelp.code).toBe(0);
    for (const option of ['--collection', '--create', '--url', '--key', '--concurrency', '--ext', '--metadata', '--state', '--no-wait']) {
      expect(ingestHelp.stdout).toContain(option);
    }
    expect(noCollection.code).toBe(2);
    expect(noCollection.stderr).toContain('--collection <id|name> is required');
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toContain("Unknown option '--bogus'");
    // No file to send: a usage error found before the gateway is contacted (port 9 would refuse).
    expect(noFiles.code).toBe(2);
    expect(noFiles.stderr).toContain('no files found in nothing');
  }, 60_000);

  describe('against a gateway', () => {
    let gw: TestGateway;
    let key: string;
    let docs: string;
    let state: string;
    const ingest = (...extra: string[]) => cli(['ingest', 'docs', '--collection', 'Manuals', '--url', gw.url, '--key', key, '--state', state, ...extra], dir);
    const listDocuments = async (collectionId: string): Promise<Json[]> => (await gw.call('GET', `/v1/collections/${collectionId}/documents`, { key })).body.data;

    beforeAll(async () => {
      gw = await startGateway({ config: { embeddings: { threads: 1 }, memory: { episodic: { sweepIntervalMs: 200 } } } });
      key = (await gw.tenant('cli')).key;
      docs = join(dir, 'docs');
      state = join(dir, 'state.json');
      await mkdir(join(docs, 'nested'), { recursive: true });
      await mkdir(join(docs, 'node_modules'), { recursive: true });
      await mkdir(join(docs, '.git'), { recursive: true });
      await writeFile(join(docs, 'guide.md'), GUIDE);
      await writeFile(join(docs, 'notes.txt'), 'Parking is behind the building. Visitors sign in at reception.\n');
      await writeFile(join(docs, 'nested', 'faq.md'), '# FAQ\n\nQ: Where are the logs?\nA: In the data folder, rotated daily.\n');
      await writeFile(join(docs, '.draft.md'), '# Not ready\n');
      await writeFile(join(docs, '.git', 'HEAD.md'), 'ref: refs/heads/main\n');
      await writeFile(join(docs, 'node_modules', 'readme.md'), '# a dependency\n');
      await writeFile(join(docs, 'logo.png'), 'not a document');
      await writeFile(join(docs, 'empty.txt'), '');
    });
    afterAll(async () => {
      await gw?.close();
    });

    it('uploads a folder, waits for ingestion, and reports the file the gateway refused', async () => {
      const run = await ingest('--create', '--metadata', '{"source":"cli-test"}');
      expect(run.stdout, run.stderr).toMatch(/uploaded +3\n/);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/unchanged +0\n/);
      expect(run.stdout).toMatch(/failed +1\n/);
      expect(run.stdout).toMatch(/^ {2}empty\.txt: \S.+$/m);
      const chunks = Number(/chunks +(\d+)/.exec(run.stdout)?.[1]);
      expect(chunks).toBeGreaterThan(0);

      const cols = (await gw.call('GET', '/v1/collections', { key })).body.data;
      expect(cols.map((c: Json) => c.name)).toEqual(['Manuals']);
      const list = await listDocuments(cols[0].id);
      expect(list.map((d) => d.external_id).sort()).toEqual(['guide.md', 'nested/faq.md', 'notes.txt']);
      for (const d of list) {
        expect(d).toMatchObject({ status: 'ready', title: d.external_id, metadata: { source: 'cli-test' } });
        expect(d.chunk_count).toBeGreaterThan(0);
      }
      expect(list.reduce((n, d) => n + d.chunk_count, 0)).toBe(chunks);

      const saved = JSON.parse(await readFile(state, 'utf8'));
      const records = saved.collections[cols[0].id];
      expect(Object.keys(records).sort()).toEqual(['empty.txt', 'guide.md', 'nested/faq.md', 'notes.txt']);
      expect(records['guide.md']).toMatchObject({ status: 'ready', size: GUIDE.length, document_id: list.find((d) => d.external_id === 'guide.md').id });
      expect(records['empty.txt']).toMatchObject({ status: 'failed', document_id: null });
    }, 120_000);

    it('uploads nothing the second time (the failed file is tried again), and replaces a changed file', async () => {
      const again = await ingest();
      expect(again.stdout, again.stderr).toMatch(/uploaded +0\n/);
      expect(again.stdout).toMatch(/unchanged +3\n/);
      expect(again.stdout).toMatch(/^ {2}empty\.txt: /m);
      expect(again.code).toBe(1);

      const colId = (await gw.call('GET', '/v1/collections', { key })).body.data[0].id;
      const before = await listDocuments(colId);
      await writeFile(join(docs, 'notes.txt'), 'Parking moved to the north lot. Visitors sign in at the front desk and get a badge.\n');
      const changed = await ingest('--collection', colId);
      expect(changed.stdout, changed.stderr).toMatch(/uploaded +1 \(1 replaced an earlier version\)\n/);
      expect(changed.stdout).toMatch(/unchanged +2\n/);
      expect(changed.code).toBe(1);

      const after = await listDocuments(colId);
      expect(after).toHaveLength(3);
      const notes = after.find((d) => d.external_id === 'notes.txt');
      expect(notes.id).not.toBe(before.find((d) => d.external_id === 'notes.txt').id);
      expect(notes).toMatchObject({ status: 'ready', title: 'notes.txt' });
      expect(notes.chunk_count).toBeGreaterThan(0);
    }, 120_000);
  });
});
