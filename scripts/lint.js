#!/usr/bin/env node
// `npm run lint`: ESLint (TypeScript and JavaScript), `prettier --check`, `clang-format
// --dry-run` (native/**/*.{h,cc}) and `tsc --noEmit` over the whole project (tests included). `npm run lint -- --fix` (= `npm run format`) applies
// Prettier and clang-format and ESLint's fixes. Prints one line per tool with the number of
// files it flags; writes .lint-results.json ({ passed, failed }: one per tool) for .ci/run.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const fix = process.argv.includes('--fix');
const bin = (pkg, name) => {
  const dir = path.dirname(require.resolve(`${pkg}/package.json`));
  const b = require(`${pkg}/package.json`).bin;
  return path.join(dir, typeof b === 'string' ? b : b[name]);
};
const run = (args) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
const git = (args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);

// Tracked and new (not ignored) files: what a commit would contain.
const files = [...new Set([...git(['ls-files']), ...git(['ls-files', '--others', '--exclude-standard'])])].filter((f) =>
  fs.existsSync(path.join(root, f)),
);
const cxx = files.filter((f) => /^native\/.*\.(h|cc)$/.test(f));

const results = [];
function report(tool, flagged, detail) {
  results.push({ tool, flagged });
  if (detail && flagged > 0) process.stdout.write(detail.endsWith('\n') ? detail : `${detail}\n`);
  console.log(`lint: ${tool}: ${flagged === 0 ? 'clean' : `${flagged} file(s) flagged`}`);
}

// ESLint
{
  const r = run([bin('eslint', 'eslint'), '--format', 'json', ...(fix ? ['--fix'] : []), '.']);
  let flagged = 1;
  let detail = r.stderr;
  try {
    const out = JSON.parse(r.stdout);
    const bad = out.filter((f) => f.errorCount + f.warningCount > 0);
    flagged = bad.length;
    const rules = new Map();
    detail = '';
    for (const f of bad) {
      for (const m of f.messages) {
        rules.set(m.ruleId, (rules.get(m.ruleId) || 0) + 1);
        detail += `${path.relative(root, f.filePath)}:${m.line}:${m.column} ${m.ruleId} ${m.message}\n`;
      }
    }
    if (rules.size > 0) detail += `eslint by rule: ${[...rules].map(([k, v]) => `${k} ${v}`).join(', ')}\n`;
  } catch {
    // eslint crashed: flagged = 1, stderr shown
  }
  report('eslint', flagged, detail);
}

// Prettier
{
  const r = run([bin('prettier', 'prettier'), fix ? '--write' : '--list-different', '--ignore-unknown', '.']);
  const listed = r.stdout.split('\n').filter(Boolean);
  report('prettier', fix ? (r.status === 0 ? 0 : 1) : listed.length, fix ? r.stderr : listed.join('\n'));
}

// clang-format
{
  const r = run([bin('@wasm-fmt/clang-format', 'clang-format'), fix ? '-i' : '--dry-run', '--Werror', ...cxx]);
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'); // its diagnostics are coloured
  const plain = r.stderr.replace(ansi, '');
  const flaggedFiles = new Set(plain.match(/^[^:\s]+\.(?:h|cc)(?=:\d+:\d+: (?:error|warning))/gm) || []);
  const flagged = fix ? (r.status === 0 ? 0 : 1) : r.status === 0 ? 0 : Math.max(1, flaggedFiles.size);
  report('clang-format', flagged, fix ? r.stderr : [...flaggedFiles].join('\n'));
}

// TypeScript: the whole project, tests and examples included (build:ts checks only src/).
if (!fix) {
  const r = run([bin('typescript', 'tsc'), '--noEmit', '-p', 'tsconfig.json']);
  const flaggedFiles = new Set(r.stdout.match(/^[^(\s]+\.ts(?=\(\d+,\d+\): error)/gm) || []);
  report('tsc', r.status === 0 ? 0 : Math.max(1, flaggedFiles.size), r.stdout + r.stderr);
}

const failed = results.filter((r) => r.flagged > 0).length;
fs.writeFileSync(path.join(root, '.lint-results.json'), JSON.stringify({ passed: results.length - failed, failed }));
process.exitCode = failed === 0 ? 0 : 1;
