'use strict';
// One-command setup: install benchmarks/ dependencies and build the root dist/ when missing.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const benchDir = path.join(__dirname, '..');
const root = path.join(benchDir, '..');

function npm(args, cwd, env = process.env) {
  console.error(`$ npm ${args.join(' ')}`);
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, { cwd, env, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed with exit code ${r.status}`);
}

/**
 * Where node-gyp finds headers for fs-ext (a native peer) without downloading them: the
 * headers installed with this very node, if there are any. Otherwise node-gyp's own default.
 */
function nodeHeadersEnv() {
  const env = { ...process.env };
  if (env.npm_config_nodedir) return env;
  const prefix = path.join(path.dirname(process.execPath), '..');
  try {
    const h = fs.readFileSync(path.join(prefix, 'include', 'node', 'node_version.h'), 'utf8');
    const v = ['MAJOR', 'MINOR', 'PATCH'].map((k) => new RegExp(`#define NODE_${k}_VERSION (\\d+)`).exec(h)?.[1]);
    if (`v${v.join('.')}` === process.version) env.npm_config_nodedir = path.resolve(prefix);
  } catch {}
  return env;
}

/** `npm ci --prefix benchmarks` when benchmarks/node_modules is missing. */
function ensureBenchDeps() {
  if (fs.existsSync(path.join(benchDir, 'node_modules'))) return;
  npm(['ci', '--prefix', benchDir, '--no-audit', '--no-fund'], root, nodeHeadersEnv());
}

/** `npm run build:ts` at the root when dist/ is missing (it is what the benchmarks require). */
function ensureDist() {
  if (fs.existsSync(path.join(root, 'dist', 'index.js'))) return;
  npm(['run', 'build:ts'], root);
}

module.exports = { ensureBenchDeps, ensureDist, nodeHeadersEnv, benchDir, root };
