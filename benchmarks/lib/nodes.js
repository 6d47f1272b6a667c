'use strict';
// The Node binaries a run measures the per-Node-version rows with (the await-after-lock group):
// the `node` running the benchmarks, plus every binary named in SHMSYNC_BENCH_NODES
// (colon-separated paths), one per major version. run.js resolves the list once and passes it to
// the group processes in SHMSYNC_BENCH_NODES_RESOLVED, so each binary is asked its version once.
//
//   SHMSYNC_BENCH_NODES=/tmp/nodes/22.23.5/bin/node:/tmp/nodes/24.22.3/bin/node npm run bench
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');

const kEnv = 'SHMSYNC_BENCH_NODES';
const kResolved = 'SHMSYNC_BENCH_NODES_RESOLVED';
/** The Node majors issue 10's await row must be measured on. */
const kWantedMajors = [20, 22, 24];

const major = (version) => Number(/^v(\d+)\./.exec(version)?.[1]);

/**
 * { nodes: [{ execPath, version, major, current }], problems: [string] }: the current node first,
 * then the env var's binaries in order, one per major (a later binary of a major already listed
 * is reported as a problem, as is a path that does not run).
 */
function resolveNodes(env = process.env) {
  if (env[kResolved]) return JSON.parse(env[kResolved]);
  const nodes = [
    { execPath: process.execPath, version: process.version, major: major(process.version), current: true },
  ];
  const problems = [];
  for (const p of (env[kEnv] ?? '').split(':').filter(Boolean)) {
    let version;
    try {
      if (!fs.existsSync(p)) throw new Error('no such file');
      version = execFileSync(p, ['-p', 'process.version'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
        .toString()
        .trim();
      if (!Number.isFinite(major(version))) throw new Error(`printed "${version}", not a Node version`);
    } catch (err) {
      problems.push(`${kEnv}: ${p} skipped (${err.message.split('\n')[0]})`);
      continue;
    }
    const same = nodes.find((n) => n.major === major(version));
    if (same) {
      problems.push(`${kEnv}: ${p} (${version}) skipped: Node ${same.major} is already measured with ${same.execPath}`);
      continue;
    }
    nodes.push({ execPath: p, version, major: major(version), current: false });
  }
  return { nodes, problems };
}

/** Resolves once and stores the result in the environment the group processes inherit. */
function publishNodes() {
  const r = resolveNodes();
  process.env[kResolved] = JSON.stringify(r);
  return r;
}

/** Lines for the run header: which Node binaries run the per-version rows, and which majors are missing. */
function describeNodes({ nodes, problems }) {
  const lines = [`nodes    ${nodes.map((n) => `${n.version} (${n.current ? 'this node' : n.execPath})`).join(', ')}`];
  const missing = kWantedMajors.filter((m) => !nodes.some((n) => n.major === m));
  if (missing.length)
    lines.push(
      `         not given: Node ${missing.join(', ')}; the await-after-lock rows for ${missing.length > 1 ? 'them' : 'it'} are skipped (name more binaries in ${kEnv}, colon-separated)`,
    );
  for (const p of problems) lines.push(`         ${p}`);
  return lines.join('\n');
}

module.exports = { resolveNodes, publishNodes, describeNodes, kWantedMajors, kEnv };
