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
 */
export function filterSql(filter: VectorFilter | undefined, params: SqlParam[]): string {
  const clauses = conditions(filter).map(([key, values]) => {
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
