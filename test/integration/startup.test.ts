import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, uniqueName } from '../helpers/env.js';
import { startGateway } from '../helpers/gateway.js';
import { migrations } from '../../src/store/migrations/index.js';

function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('start-up', () => {
  it('stops with a message naming the key when a value is wrong', async () => {
    const res = await runMain({ PORT: 'eighty' });
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('server.port');
    expect(res.stderr).toMatch(/expected number/);
  });

  it('names the key inside a config file', async () => {
    const file = join(tmpdir(), `${uniqueName('cfg')}.yaml`);
    writeFileSync(file, 'models:\n  fast:\n    targets:\n      - provider: nowhere\n        model: x\n');
    const res = await runMain({ CONFIG_FILE: file });
    expect(res.code).toBe(78);
    expect(res.stderr).toContain('models.fast.targets.0.provider: unknown provider "nowhere"');
  });

  it('two gateways starting at once on one database migrate it exactly once', async () => {
    const schema = uniqueName('race');
    try {
      const [a, b] = await Promise.all([startGateway({ schema, redis: false }), startGateway({ schema, redis: false })]);
      const { rows } = await a.gateway.deps.sql.query<{ version: number }>('SELECT version FROM schema_migrations');
      expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
      // Both serve: a tenant made through one is visible through the other.
      const t = await a.tenant();
      expect((await b.call('GET', '/v1/models', { key: t.key })).status).toBe(200);
      await a.close();
      await b.close();
    } finally {
      await dropSchema(schema);
    }
  });
});
