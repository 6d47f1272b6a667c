'use strict';
// What the numbers were measured on: printed at the top of every run and stored in the JSON.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}

function gitCommit(root) {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'native'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return `${rev.toString().trim()}${dirty.length ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

function machineInfo() {
  const root = path.join(__dirname, '..', '..');
  const header = process.report?.getReport?.().header ?? {};
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    arch: process.arch,
    glibc: header.glibcVersionRuntime ?? null,
    node: process.version,
    v8: process.versions.v8,
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
    commit: gitCommit(root),
    date: new Date().toISOString(),
  };
}

function describeMachine(m) {
  const fmt = require('./format');
  return [
    `cpu      ${m.cpu}, ${m.cores} cores, ${fmt.bytes(m.memoryBytes)} RAM, ${m.arch}`,
    `os       ${m.kernel}${m.glibc ? `, glibc ${m.glibc}` : ''}, load ${m.loadavg.join(' ')}`,
    `node     ${m.node} (V8 ${m.v8})`,
    `shmsync  commit ${m.commit}`,
    `date     ${m.date}`,
  ].join('\n');
}

module.exports = { machineInfo, describeMachine };
