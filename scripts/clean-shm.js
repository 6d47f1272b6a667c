#!/usr/bin/env node
// Lists shmsync segments in /dev/shm (`shmsync-*` and leftover `shmsync.tmp-*` staging files),
// and with --remove unlinks those that no live process maps or holds open (read from
// /proc/*/maps and /proc/*/fd and judged by device + inode, not path: a creator maps its segment
// under its temporary name): the segments whose users are all dead. --force removes used ones
// too (their users keep their mappings, but nobody can open the name again). Names (globs with
// * and ?) restrict it to those segments. `shmsync gc` is the installed equivalent.
// Usage: npm run clean-shm [-- --remove] [NAME...]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { segmentUsers, identityOf } = require('./segment-users');

// SHMSYNC_SHM_DIR: another directory to scan (used to test this script without touching /dev/shm).
const kShmDir = process.env.SHMSYNC_SHM_DIR || '/dev/shm';
const kMagic = 0x534d4853; // native/core/layout.h
const kKinds = { 1: 'raw', 2: 'mutex', 3: 'queue', 4: 'owners' };

function usage() {
  return [
    'Usage: node scripts/clean-shm.js [--remove] [--force] [NAME...]',
    '',
    'Lists shmsync shared-memory segments in /dev/shm (shmsync-* and shmsync.tmp-*);',
    'NAME (logical or file name, * and ? as wildcards) restricts the list.',
    '  --remove   unlink every listed segment that no live process maps or holds open',
    '  --force    with --remove: unlink mapped segments too',
    '  --help     show this help',
  ].join('\n');
}

/** Reads the 64-byte segment header without mapping the file (safe on truncated files). */
function describeHeader(file) {
  const header = Buffer.alloc(64);
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    if (fs.readSync(fd, header, 0, 64, 0) < 64) return 'truncated header';
  } catch (err) {
    return `unreadable (${err.code})`;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (header.readUInt32LE(0) !== kMagic) return 'bad magic';
  const kind = header.readUInt16LE(6);
  const payload = header.readBigUInt64LE(32);
  return `${kKinds[kind] || `kind ${kind}`} v${header.readUInt16LE(4)}, payload ${payload} bytes`;
}

function globToRegExp(pattern) {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
}

function listSegments(patterns) {
  let names;
  try {
    names = fs.readdirSync(kShmDir);
  } catch (err) {
    throw new Error(`cannot list ${kShmDir}: ${err.message}`, { cause: err });
  }
  const res = patterns.map(globToRegExp);
  const wanted = (n) => res.length === 0 || res.some((re) => re.test(n) || re.test(n.replace(/^shmsync-/, '')));
  return names.filter((n) => (n.startsWith('shmsync-') || n.startsWith('shmsync.tmp-')) && wanted(n)).sort();
}

/** A staging file (shmsync.tmp-<pid>-…) whose creator lives may be held by fd only: keep it. */
function liveStagingPid(name) {
  const pid = Number(/^shmsync\.tmp-(\d+)-/.exec(name)?.[1]);
  if (!(pid > 0)) return 0;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return err.code === 'EPERM' ? pid : 0;
  }
}

function main(argv) {
  const known = new Set(['--remove', '--force', '--help', '-h']);
  const unknown = argv.filter((a) => a.startsWith('-') && !known.has(a));
  const patterns = argv.filter((a) => !a.startsWith('-'));
  if (unknown.length > 0) {
    console.error(`clean-shm: unknown argument ${unknown[0]}\n${usage()}`);
    return 2;
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return 0;
  }
  const remove = argv.includes('--remove');
  const force = argv.includes('--force');
  const segments = listSegments(patterns);
  const users = segmentUsers(kShmDir);
  if (segments.length === 0) {
    console.log(`no shmsync segments in ${kShmDir}`);
    return 0;
  }
  let failed = 0;
  for (const name of segments) {
    const file = path.join(kShmDir, name);
    let info;
    try {
      const st = fs.statSync(file);
      const what = name.startsWith('shmsync.tmp-') ? 'unpublished temporary segment' : describeHeader(file);
      info = `${st.size} bytes, mode ${(st.mode & 0o777).toString(8).padStart(3, '0')}, uid ${st.uid}, ${what}`;
    } catch (err) {
      if (err.code === 'ENOENT') continue; // removed meanwhile
      info = `stat failed (${err.code})`;
    }
    const pids = users.get(name);
    const staging = liveStagingPid(name);
    const used = pids !== undefined || staging !== 0;
    if (pids) info += `, in use (mapped or open by pid ${[...pids].join(' ')})`;
    else if (staging) info += `, staging file of live pid ${staging}`;
    if (!remove || (used && !force)) {
      console.log(`${name}  ${info}`);
      continue;
    }
    try {
      // Re-check just before unlink: a file re-created under the name meanwhile is not ours.
      const now = identityOf(file);
      if (now === null) continue;
      if (!force && segmentUsers(kShmDir).has(name)) {
        console.log(`${name}  ${info}, in use now: kept`);
        continue;
      }
      fs.unlinkSync(file);
      console.log(`removed ${name}  (${info})`);
    } catch (err) {
      if (err.code === 'ENOENT') continue;
      console.error(`could not remove ${name}: ${err.message}`);
      failed += 1;
    }
  }
  if (!remove) console.log(`${segments.length} segment(s); run with --remove to unlink them`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
