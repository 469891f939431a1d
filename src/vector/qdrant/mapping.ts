import { createHash } from 'node:crypto';
import type { Schemas } from '@qdrant/js-client-rest';
import type { VectorFilter } from '../port.js';
import { conditions } from '../validate.js';

/** Fixed namespace of the gateway's point ids (a random UUID, chosen once; never change it). */
const NAMESPACE = Buffer.from('6f1d3c2a9b8e4f7d8a5c0e1b2d3f4a5b', 'hex');

/**
 * Qdrant point ids must be unsigned integers or UUIDs. A UUIDv5 (SHA-1, RFC 9562) of the tenant and
 * the caller's id is deterministic, so an upsert overwrites and a delete by id finds the point, and
 * the tenant is part of it, so the same id in two tenants is two points. The original id is kept in
 * the payload.
 */
export function pointUuid(tenantId: string, id: string): string {
  const h = createHash('sha1').update(NAMESPACE).update(`${tenantId}\u0000${id}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Where the tenant, the original id and the caller's payload live in a Qdrant point's payload. */
export const TENANT_KEY = 'tenant_id';
export const ID_KEY = 'point_id';
/** The caller's payload is nested so its keys can never collide with (or forge) the two above. */
export const PAYLOAD_KEY = 'p';

/**
 * The tenant condition plus one condition per filter key. On an array payload value Qdrant's
 * `match` means "any element matches", the same rule as the other adapters.
 */
export function qdrantFilter(tenantId: string, filter: VectorFilter | undefined): Schemas['Filter'] {
  const must: Schemas['Condition'][] = [{ key: TENANT_KEY, match: { value: tenantId } }];
  for (const [k, values] of conditions(filter)) {
    const key = `${PAYLOAD_KEY}.${k}`;
    const [first] = values;
    if (values.length === 1 && first !== undefined) {
      must.push({ key, match: { value: first } });
    } else if (values.every((v) => typeof v === 'string') || values.every((v) => typeof v === 'number')) {
      // `any` takes keywords or integers only, not a mix and not booleans.
      must.push({ key, match: { any: values as string[] | number[] } });
    } else {
      must.push({ should: values.map((v) => ({ key, match: { value: v } })) });
    }
  }
  return { must };
}
