#!/usr/bin/env node
import { type CliIo, runIngest } from './cli/ingest.js';
import { runReindex } from './cli/reindex.js';

/** The commands of `context-gateway`; each parses its own options and resolves to an exit status. */
const COMMANDS: Record<string, { summary: string; run: (argv: string[], io: CliIo) => Promise<number> }> = {
  ingest: { summary: 'upload folders or files to a collection (resumable)', run: runIngest },
  reindex: { summary: 'rebuild the Redis hot copies and the vector collections from SQL', run: runReindex },
};

const USAGE = `Usage: context-gateway <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run "context-gateway <command> --help" for the options of a command.
`;

async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const command = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr.write(`${name === undefined ? '' : `context-gateway: unknown command "${name}"\n\n`}${USAGE}`);
    return 2;
  }
  return command.run(rest, io);
}

// The composition root of the CLI: the only place it touches the process.
const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
main(process.argv.slice(2), io).then(
  (code) => {
    // Exit once stdout is flushed: idle keep-alive sockets must not hold the process open.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`context-gateway: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
