// What a test run created in /dev/shm, judged by the run's own records, never by a diff of
// the directory (other programs on the machine create and remove shmsync segments too).
//
// A run has an id and a ledger file:
//  - SHMSYNC_TEST_LEDGER=<file>: the native core appends `+<name>` for every segment (and
//    staging file) a process of the run creates and `-<name>` when a create lost the race to
//    another creator (native/core/test-ledger.h). Children inherit the variable.
//  - SHMSYNC_TEST_RUN=<id>: test helpers put the id into every name they make
//    (test/helpers/shm.ts testName), which also covers segments a test writes by hand.
// A leftover is a name in /dev/shm that the ledger says the run created, or that carries the
// run id. Used by scripts/run-tap.js and scripts/test-native.js.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const kShmDir = '/dev/shm';

/** Starts a run: a fresh id and an empty ledger only this user can write. */
function startRun(tag) {
  const id = `R${crypto.randomBytes(6).toString('hex')}`;
  const ledger = path.join(os.tmpdir(), `shmsync-${tag}-ledger-${id}`);
  fs.writeFileSync(ledger, '', { mode: 0o600, flag: 'wx' });
  return {
    id,
    ledger,
    env: { SHMSYNC_TEST_RUN: id, SHMSYNC_TEST_LEDGER: ledger },
    /** Names in /dev/shm this run created (by its ledger or its id) that still exist. */
    leftovers() {
      return leftovers(readLedger(ledger), id);
    },
    /** Removes the ledger file. */
    finish() {
      fs.rmSync(ledger, { force: true });
    },
  };
}

/** Names the ledger says were created by the run: more `+` records than `-` records. */
function readLedger(file) {
  const count = new Map();
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return new Set();
  }
  for (const line of text.split('\n')) {
    if (line.length < 2 || (line[0] !== '+' && line[0] !== '-')) continue;
    const name = line.slice(1);
    if (name.includes('/')) continue; // never a segment name
    count.set(name, (count.get(name) || 0) + (line[0] === '+' ? 1 : -1));
  }
  return new Set([...count].filter(([, n]) => n > 0).map(([name]) => name));
}

function leftovers(created, id, dir = kShmDir) {
  let present;
  try {
    present = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return present.filter((n) => created.has(n) || n.includes(id)).sort();
}

/** The shmsync names in /dev/shm now (for the report of what other programs did meanwhile). */
function shmsyncNames(dir = kShmDir) {
  try {
    return new Set(fs.readdirSync(dir).filter((n) => n.startsWith('shmsync')));
  } catch {
    return new Set();
  }
}

module.exports = { startRun, readLedger, leftovers, shmsyncNames };
