#!/usr/bin/env node
/**
 * The `shmsync` command: see docs/cli.md. Exit codes: 0 ok, 1 error, 2 usage. Every command
 * reads segments with pread only (never maps, never locks): looking never changes an object.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { CliError } from './errors';
import { setColor } from './render';
import { ls } from './commands/ls';
import { inspect } from './commands/inspect';
import { gc, rm } from './commands/remove';
import { watch } from './commands/watch';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- commander passes each action its own argument types
type Action = (...args: any[]) => number | Promise<number>;

let exitCode = 0;

/** Wraps a command: colour setup from its options, its return value as the exit code. */
function run(action: Action): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.opts() as { color?: boolean; json?: boolean };
    setColor(opts.json ? false : opts.color);
    exitCode = await action(...args.slice(0, -2), opts);
  };
}

function common(cmd: Command): Command {
  return cmd
    .option('--json', 'print JSON instead of a table')
    .option('--no-color', 'no colours (also: the NO_COLOR environment variable)');
}

export function program(): Command {
  const p = new Command('shmsync')
    .description(
      'See and clean up shmsync objects (locks, queues, shared memory) in /dev/shm.\nReading never changes an object: segments are read with pread, never mapped or locked.',
    )
    .version(
      (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string })
        .version,
    )
    .showHelpAfterError()
    .exitOverride();
  common(
    p
      .command('ls')
      .argument('[pattern...]', 'names to show (* and ? match any characters)')
      .description('list every shmsync object readable by this user, with the processes that map it'),
  ).action(run((patterns: string[], opts) => ls(patterns, opts)));
  common(
    p
      .command('inspect')
      .argument('<name>', 'logical name, file name (shmsync-…) or path')
      .description('one object in detail: layout version, header, decoded state words, users'),
  ).action(run((name: string, opts) => inspect(name, opts)));
  common(
    p
      .command('rm')
      .argument('<name...>', 'objects to remove')
      .description('remove objects by name (refuses objects a live process uses unless --force)')
      .option('-f, --force', 'remove even if a live process maps it (its users keep their mappings)'),
  ).action(run((names: string[], opts) => rm(names, opts)));
  common(
    p
      .command('gc')
      .argument('[pattern...]', 'only consider these names')
      .description('remove every object no live process maps or holds open (dry run unless --yes)')
      .option('-y, --yes', 'really remove them'),
  ).action(run((patterns: string[], opts) => gc(patterns, opts)));
  common(
    p
      .command('watch')
      .argument('[name]', 'one object (default: every lock and queue)')
      .description('live view of lock holders and queue depths (Ctrl-C to stop)')
      .addOption(new Option('-i, --interval <ms>', 'refresh interval in milliseconds').default('1000'))
      .option('-n, --count <frames>', 'stop after this many refreshes'),
  ).action(run((name: string | undefined, opts) => watch(name, opts)));
  common(
    p
      .command('bench')
      .argument('[group...]', 'benchmark groups (default: all; see --list in benchmarks/run.js)')
      .description('run the benchmark suite (source checkout): ratio table, JSON and an SVG chart')
      .option('--quick', 'short samples (a smoke run)')
      .option('--samples <n>', 'samples per competitor')
      .option('--time <ms>', 'target duration of one sample')
      .option('--out <dir>', 'where latest.json, latest.md and ratios.svg go (default benchmarks/results)')
      .option('--compare <old.json>', 'show the change of every ratio against an earlier run')
      .option('--verbose', "show the suite's own output"),
  ).action(run(async (groups: string[], opts) => (await import('./commands/bench')).bench(groups, opts)));
  for (const cmd of p.commands) cmd.exitOverride().showHelpAfterError();
  return p;
}

export async function main(argv: string[]): Promise<number> {
  exitCode = 0;
  try {
    await program().parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      return 2;
    }
    if (err instanceof CliError) {
      process.stderr.write(`shmsync: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`shmsync: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
