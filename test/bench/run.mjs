#!/usr/bin/env node
// Entry of `npm run bench`: runs the project's benchmarks one after another and leaves their
// markdown + raw JSONL in test/bench/results/. Later issues register their benches here.
//
//   node test/bench/run.mjs [--bench gateway[,…]] [options passed to each bench]
// gateway options: see gateway.bench.mjs (e.g. --duration 5 --rate 400 --no-build, or
// --profile passthrough|session for a CPU profile of this gateway instead of the comparison).

const benches = {
  gateway: async (argv) => (await import('./gateway.bench.mjs')).runGatewayBench(argv),
  context: async (argv) => (await import('./context.bench.mjs')).runContextBench(argv),
  knowledge: async (argv) => (await import('./knowledge.bench.mjs')).runKnowledgeBench(argv),
  memory: async (argv) => (await import('./memory.bench.mjs')).runMemoryBench(argv),
  cache: async (argv) => (await import('./cache.bench.mjs')).runCacheBench(argv),
};

const argv = process.argv.slice(2);
const i = argv.indexOf('--bench');
const chosen = i >= 0 ? argv[i + 1].split(',') : Object.keys(benches);
const rest = i >= 0 ? [...argv.slice(0, i), ...argv.slice(i + 2)] : argv;
for (const name of chosen)
  if (!benches[name]) {
    console.error(`unknown bench "${name}" (known: ${Object.keys(benches).join(', ')})`);
    process.exit(2);
  }

let failed = false;
for (const name of chosen) {
  console.error(`\n=== bench: ${name}`);
  try {
    await benches[name](rest);
  } catch (e) {
    failed = true;
    console.error(`bench ${name} failed: ${e?.stack || e}`);
  }
}
process.exit(failed ? 1 : 0);
