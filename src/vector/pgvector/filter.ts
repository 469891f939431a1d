import type { SqlParam } from '../../store/sql.js';
import type { Vector, VectorFilter } from '../port.js';
import { conditions } from '../validate.js';

/** pgvector's text input format; passing text keeps the `Sql` port free of a vector type. */
export const vectorLiteral = (v: Vector): string => `[${Array.from(v).join(',')}]`;

/**
 * Turns a filter into SQL over the jsonb payload, appending its parameters to `params`.
 * Each value becomes a containment test (`payload @> {"k": v}`), which the GIN jsonb_path_ops
 * index serves; a string also tests `{"k": [v]}` because jsonb containment does not look inside a
 * nested array for a scalar, and a `string[]` payload value must match each of its elements.
 * Keys in `indexed` (the collection's `indexedKeys`) are compared with `->>` instead, for their btree.
 */
export function filterSql(filter: VectorFilter | undefined, params: SqlParam[], indexed: ReadonlySet<string> = new Set()): string {
  const clauses = conditions(filter).map(([key, values]) => {
    // An indexed key holds string scalars (checked on upsert): plain equality, which its btree serves.
    if (indexed.has(key) && values.every((v) => typeof v === 'string')) {
      params.push(values as string[]);
      return `(payload->>'${key}') = ANY($${params.length}::text[])`;
    }
    const alternatives = values.flatMap((v) => {
      const forms = typeof v === 'string' ? [{ [key]: v }, { [key]: [v] }] : [{ [key]: v }];
      return forms.map((f) => {
        params.push(JSON.stringify(f));
        return `payload @> $${params.length}::jsonb`;
      });
    });
    return `(${alternatives.join(' OR ')})`;
  });
  return clauses.length === 0 ? 'TRUE' : clauses.join(' AND ');
}
