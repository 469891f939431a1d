import { collectionNotFound } from './errors.js';
import type { CollectionSpec } from './port.js';

/**
 * Remembers each collection's spec so a dimension check costs no round trip. A collection dropped
 * and recreated by another process with other dimensions is caught by the backend's own check.
 */
export function createSpecCache(load: (name: string) => Promise<CollectionSpec | null>) {
  const specs = new Map<string, CollectionSpec>();
  return {
    async get(name: string): Promise<CollectionSpec> {
      const cached = specs.get(name);
      if (cached) return cached;
      const spec = await load(name);
      if (!spec) throw collectionNotFound(name);
      specs.set(name, spec);
      return spec;
    },
    set(spec: CollectionSpec): void {
      specs.set(spec.name, { ...spec });
    },
    forget(name: string): void {
      specs.delete(name);
    },
  };
}
