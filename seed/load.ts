/**
 * Loads the sample sessions into a running gateway through its HTTP API, creating a `demo` tenant
 * and an API key for it. Usage:
 *   ADMIN_API_KEY=… npm run seed                 # gateway on http://127.0.0.1:8080
 *   GATEWAY_URL=http://host:port ADMIN_API_KEY=… npm run seed
 * Prints the new API key; the sessions can then be continued with session_id.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const base = process.env.GATEWAY_URL ?? 'http://127.0.0.1:8080';
const admin = process.env.ADMIN_API_KEY;
if (!admin) {
  process.stderr.write('Set ADMIN_API_KEY to the gateway\'s admin key.\n');
  process.exit(2);
}

async function call(path: string, key: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const tenant = await call('/admin/v1/tenants', admin, { name: 'Demo' });
const key = await call('/admin/v1/keys', admin, { tenant_id: tenant.id, name: 'seed' });
const dir = join(dirname(fileURLToPath(import.meta.url)), 'sessions');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const s = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { session_id: string; user?: string; messages: unknown[] };
  const res = await call(`/v1/sessions/${encodeURIComponent(s.session_id)}/messages`, key.key as string, { messages: s.messages, user: s.user });
  process.stdout.write(`session ${s.session_id}: ${res.imported} turns imported\n`);
}
process.stdout.write(`tenant ${tenant.id}\nAPI key (shown once): ${key.key}\n`);
