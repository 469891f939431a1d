import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker script `name` (without extension) that sits beside the module `self`
 * (its `import.meta.url`): `name.js` from dist/, or `name.ts` under tsx/vitest.
 * `execArgv: ['--import', 'tsx']` does not reach a worker's entry module on Node 20, so for .ts a
 * small eval'd bootstrap registers tsx's loader in the thread before importing the script.
 */
export function startScriptWorker(self: string, name: string, options: WorkerOptions = {}): Worker {
  if (!self.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, self), options);
  // The ESM build of tsx's API (its CJS build resolves its own hooks file wrongly from an eval'd worker).
  const tsxApi = pathToFileURL(join(dirname(createRequire(self).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const script = new URL(`./${name}.ts`, self).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
