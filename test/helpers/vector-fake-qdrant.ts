import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small in-process stand-in for Qdrant's REST API: only the endpoints the Qdrant adapter calls,
 * with Qdrant's documented semantics (cosine vectors normalised on write, `match` on an array
 * payload matches any element, ids are UUIDs or unsigned integers). It checks the adapter's wiring
 * through the real `@qdrant/js-client-rest` where no Qdrant runs; it does not replace the suite
 * against a real Qdrant (QDRANT_URL).
 */
type Json = Record<string, unknown>;
interface Point {
  id: string | number;
  vector: number[];
  payload: Json;
}
interface Collection {
  size: number;
  metadata: Json;
  points: Map<string | number, Point>;
  indexes: Json;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const valueAt = (payload: Json, key: string): unknown =>
  key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Json)[k] : undefined), payload);

function matchCondition(payload: Json, cond: Json): boolean {
  if (!('key' in cond)) return matchFilter(payload, cond);
  const value = valueAt(payload, String(cond.key));
  const match = cond.match as Json;
  const allowed = 'any' in match ? (match.any as unknown[]) : [match.value];
  for (const a of allowed) {
    const ok = typeof a === 'string' || typeof a === 'boolean' || (typeof a === 'number' && Number.isInteger(a));
    if (!ok) throw new HttpError(400, `bad match value ${JSON.stringify(a)}`);
  }
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => allowed.includes(v));
}

function matchFilter(payload: Json, filter: Json | undefined): boolean {
  if (!filter) return true;
  const must = (filter.must as Json[] | undefined) ?? [];
  const should = (filter.should as Json[] | undefined) ?? [];
  const mustNot = (filter.must_not as Json[] | undefined) ?? [];
  return (
    must.every((c) => matchCondition(payload, c)) &&
    (should.length === 0 || should.some((c) => matchCondition(payload, c))) &&
    !mustNot.some((c) => matchCondition(payload, c))
  );
}

const normalise = (v: number[]): number[] => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => Math.fround(x / n));
};

export async function startFakeQdrant(): Promise<{ url: string; close(): Promise<void> }> {
  const collections = new Map<string, Collection>();
  const get = (name: string): Collection => {
    const c = collections.get(name);
    if (!c) throw new HttpError(404, `Collection \`${name}\` doesn't exist!`);
    return c;
  };
  const checkId = (id: unknown): string | number => {
    if ((typeof id === 'string' && UUID.test(id)) || (typeof id === 'number' && Number.isInteger(id) && id >= 0)) return id;
    throw new HttpError(400, `Unable to parse point id ${JSON.stringify(id)}`);
  };

  const handle = (method: string, path: string, body: Json): unknown => {
    const m = path.match(/^\/collections\/([^/]+)(\/.*)?$/);
    if (!m) throw new HttpError(404, 'not found');
    const name = decodeURIComponent(m[1] as string);
    const rest = `${method} ${m[2] ?? ''}`;
    switch (rest) {
      case 'GET /exists':
        return { exists: collections.has(name) };
      case 'GET ':
        return {
          status: 'green',
          points_count: get(name).points.size,
          config: { params: { vectors: { size: get(name).size, distance: 'Cosine' } }, metadata: get(name).metadata },
        };
      case 'PUT ': {
        if (collections.has(name)) throw new HttpError(409, `Collection \`${name}\` already exists!`);
        const vectors = body.vectors as Json;
        if (vectors.distance !== 'Cosine') throw new HttpError(400, 'expected Cosine');
        collections.set(name, { size: Number(vectors.size), metadata: {}, points: new Map(), indexes: {} });
        return true;
      }
      case 'PATCH ':
        Object.assign(get(name).metadata, body.metadata as Json);
        return true;
      case 'DELETE ':
        return collections.delete(name);
      case 'PUT /index':
        get(name).indexes[String(body.field_name)] = body.field_schema;
        return { operation_id: 0, status: 'completed' };
      case 'PUT /points': {
        const c = get(name);
        for (const p of body.points as Json[]) {
          const vector = p.vector as number[];
          if (vector.length !== c.size) throw new HttpError(400, `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${vector.length}`);
          c.points.set(checkId(p.id), { id: p.id as string, vector: normalise(vector), payload: structuredClone(p.payload as Json) });
        }
        return { operation_id: 0, status: 'completed' };
      }
      case 'POST /points/delete': {
        const c = get(name);
        if (Array.isArray(body.points)) for (const id of body.points) c.points.delete(checkId(id));
        else for (const p of [...c.points.values()]) if (matchFilter(p.payload, body.filter as Json)) c.points.delete(p.id);
        return { operation_id: 0, status: 'completed' };
      }
      case 'POST /points/count':
        return { count: [...get(name).points.values()].filter((p) => matchFilter(p.payload, body.filter as Json)).length };
      case 'POST /points/query': {
        const c = get(name);
        const q = body.query as number[];
        if (q.length !== c.size) throw new HttpError(400, 'Wrong input: Vector dimension error');
        const qn = normalise(q);
        const hits = [...c.points.values()]
          .filter((p) => matchFilter(p.payload, body.filter as Json))
          .map((p) => ({
            id: p.id,
            version: 0,
            score: p.vector.reduce((s, x, i) => s + x * (qn[i] as number), 0),
            payload: body.with_payload ? p.payload : null,
          }))
          .sort((a, b) => b.score - a.score)
          .slice(0, Number(body.limit ?? 10));
        return { points: hits };
      }
      default:
        throw new HttpError(404, `no route ${rest}`);
    }
  };

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString('utf8');
    });
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] as string;
      let status = 200;
      let out: unknown;
      try {
        out = { result: handle(req.method ?? 'GET', path, raw ? (JSON.parse(raw) as Json) : {}), status: 'ok', time: 0 };
      } catch (err) {
        status = err instanceof HttpError ? err.status : 500;
        out = { status: { error: (err as Error).message }, time: 0 };
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The client keeps connections alive; without this, close waits for their idle timeout.
        server.closeAllConnections();
      }),
  };
}
