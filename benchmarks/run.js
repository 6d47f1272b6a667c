#!/usr/bin/env node
'use strict';
// shmsync benchmarks: `node benchmarks/run.js [group...] [options]` (`npm run bench` at the root).
// See benchmarks/README.md.
const path = require('node:path');
const { execFileSync, fork } = require('node:child_process');
const { parseArgs } = require('node:util');
const { ensureBenchDeps, ensureDist, benchDir } = require('./lib/deps');

const usage = `usage: node benchmarks/run.js [group...] [options]   (npm run bench -- [group...] [options])
  --only GROUP     run only this group (repeatable, or comma-separated; same as naming it)
  --quick          short samples (a smoke run, about two minutes)
  --samples N      samples per competitor (default 10, quick 3)
  --time MS        target duration of one sample (default 250, quick 30)
  --out DIR        where latest.json / latest.md go (default benchmarks/results)
  --no-write       print only, write no result files
  --pin            pin this process to CPU 0 and forked children to CPU 1 (taskset)
  --list           list the groups and exit
env SHMSYNC_BENCH_NODES=/path/to/node22:/path/to/node24  more Node binaries for the
                 per-Node-version rows (await-after-lock); the current node is always one`;

function parse() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      samples: { type: 'string' },
      time: { type: 'string' },
      out: { type: 'string', default: path.join(benchDir, 'results') },
      'no-write': { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const positive = (name, v, dflt) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${v}`);
    return n;
  };
  return {
    ...values,
    groups: [...positionals, ...values.only.flatMap((g) => g.split(',')).filter(Boolean)],
    samples: Math.max(1, Math.round(positive('samples', values.samples, values.quick ? 3 : 10))),
    sampleTimeMs: positive('time', values.time, values.quick ? 30 : 250),
  };
}

async function main() {
  let opts;
  try {
    opts = parse();
  } catch (err) {
    console.error(`${err.message}\n${usage}`);
    return 2;
  }
  if (opts.help) {
    console.log(usage);
    return 0;
  }
  ensureBenchDeps();
  ensureDist();
  const nodes = require('./lib/nodes').publishNodes(); // before the groups load: they read it
  const all = require('./groups');
  if (opts.list) {
    for (const g of all) console.log(`${g.name.padEnd(18)} ${g.title}`);
    return 0;
  }
  const unknown = opts.groups.filter((n) => !all.some((g) => g.name === n));
  if (unknown.length) {
    console.error(`unknown group(s): ${unknown.join(', ')}; groups: ${all.map((g) => g.name).join(', ')}`);
    return 2;
  }
  const selected = opts.groups.length ? all.filter((g) => opts.groups.includes(g.name)) : all;

  const { machineInfo, describeMachine } = require('./lib/machine');
  const { consoleTable, writeResults } = require('./lib/report');
  const { evaluateTargets, measuredTargets, targetsConsole } = require('./lib/targets');
  const { describeNodes } = require('./lib/nodes');
  const { loadShmsync } = require('./lib/shmsync');

  if (opts.pin) {
    try {
      execFileSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });
    } catch {
      console.error('--pin: taskset failed; running unpinned');
      opts.pin = false;
    }
  }
  const machine = machineInfo();
  machine.nodes = nodes;
  console.log(describeMachine(machine));
  console.log(describeNodes(nodes));
  console.log(
    `run      ${opts.samples} samples × ~${opts.sampleTimeMs} ms per competitor${opts.pin ? ', pinned' : ''}; groups: ${selected.map((g) => g.name).join(' ')}`,
  );
  const { error } = loadShmsync();
  if (error) console.log(`\nWARNING: shmsync dist/ did not load, shmsync rows are skipped:\n${error.message}`);

  const started = Date.now();
  const results = [];
  // Progress for a parent that forked this run with an IPC channel (`shmsync bench`).
  const progress = (m) => process.send?.({ benchProgress: m });
  progress({ groups: selected.map((g) => g.name) });
  for (const group of selected) {
    progress({ start: group.name });
    const result = await runGroupProcess(group, opts);
    results.push(result);
    progress({ done: group.name });
    console.log(consoleTable(result));
  }
  const run = {
    machine,
    options: { quick: opts.quick, samples: opts.samples, sampleTimeMs: opts.sampleTimeMs, pin: opts.pin },
    seconds: Number(((Date.now() - started) / 1000).toFixed(1)),
    loadavgEnd: require('node:os')
      .loadavg()
      .map((x) => Number(x.toFixed(2))),
    groups: results,
  };
  // Only the targets this run measured something for (a selection of groups checks fewer).
  run.targets = measuredTargets(evaluateTargets(run));
  if (run.targets.length) console.log(targetsConsole(run.targets));
  const leaked = results.flatMap((g) => g.leakedSegments ?? []);
  if (leaked.length) {
    console.log(
      `\nWARNING: shared-memory segments the library created and left behind (removed by the harness): ${leaked.join(' ')}`,
    );
    run.leakedSegments = leaked;
  }
  console.log(`\ntotal ${run.seconds} s; load average now ${run.loadavgEnd.join(' ')}`);
  if (!opts['no-write']) {
    const files = writeResults(run, path.resolve(opts.out));
    console.log(`wrote ${path.relative(process.cwd(), files.json)} and ${path.relative(process.cwd(), files.md)}`);
  }
  const failed = results.flatMap((g) =>
    g.competitors.filter((c) => c.status === 'error').map((c) => `${g.name}/${c.name}`),
  );
  if (failed.length) {
    console.error(`\n${failed.length} competitor(s) failed: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

/**
 * Runs `group` in a fresh process (lib/group-process.js) so that no process-wide state of one
 * group (promise hooks, threads, JIT/GC history) colours the next. A crashed group process
 * gives a result whose competitors are all 'error'.
 */
function runGroupProcess(group, opts) {
  const t0 = Date.now();
  const child = fork(path.join(__dirname, 'lib', 'group-process.js'), [group.name, JSON.stringify(opts)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve) => {
    let result = null;
    child.on('message', (m) => {
      if (m && m.result) result = m.result;
    });
    child.on('exit', (code, signal) => {
      if (result && code === 0) {
        resolve(result);
        return;
      }
      const note = `group process exited with code ${code}, signal ${signal}${result ? ' after reporting' : ''}`;
      resolve(
        result ?? {
          name: group.name,
          title: group.title,
          metric: group.metric,
          unit: group.unit,
          notes: group.notes,
          seconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
          competitors: group.competitors.map((c) => ({ name: c.name, side: c.side, status: 'error', note })),
        },
      );
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
