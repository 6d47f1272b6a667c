// Demo section: one Mutex, four processes, one shared counter - and one process SIGKILLed while
// it holds the lock. The counter is a plain read + write in shared memory (no Atomics), so only
// the lock keeps increments from being lost; the workers live in mutex-worker.js.
'use strict';
const { fork } = require('node:child_process');
const path = require('node:path');
const { Mutex, SharedMemory } = require('../../dist');
const { say } = require('./lib');

exports.title = 'Mutex: 4 processes share a counter; one is killed while holding the lock';

const kWorkers = 4;
const kVictim = kWorkers - 1; // index of the worker that is killed
const kIterations = 5_000; // per survivor
const kHoldAt = kIterations; // the victim stops, holding the lock, once the counter reaches this
const kReplyTimeoutMs = 30_000; // a stuck worker fails the section instead of hanging the demo

/**
 * Forks mutex-worker.js. next(type) resolves with the worker's next message of that type (kept
 * if it came early), or rejects if the worker exits first or stays silent too long.
 */
function forkWorker(label) {
  const child = fork(path.join(__dirname, 'mutex-worker.js'), [], { serialization: 'advanced', execArgv: [] });
  const inbox = [];
  const waiters = [];
  let exit = null;
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
      for (const w of waiters.splice(0)) w.fail();
    }),
  );
  child.once('error', (err) => {
    // a failed spawn emits no 'exit'
    if (child.pid === undefined && exit === null) child.emit('exit', null, null, err);
  });
  child.on('message', (m) => {
    const at = waiters.findIndex((w) => w.type === m.type);
    if (at >= 0) waiters.splice(at, 1)[0].resolve(m);
    else inbox.push(m);
  });
  const next = (type) =>
    new Promise((resolve, reject) => {
      const at = inbox.findIndex((m) => m.type === type);
      if (at >= 0) return resolve(inbox.splice(at, 1)[0]);
      const why = () => `${label} (pid ${child.pid})`;
      const waiter = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        fail: () => {
          clearTimeout(timer);
          reject(new Error(`${why()} exited (code ${exit.code}, signal ${exit.signal}) before sending '${type}'`));
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`${why()} sent no '${type}' within ${kReplyTimeoutMs} ms`));
      }, kReplyTimeoutMs);
      if (exit !== null) return waiter.fail();
      waiters.push(waiter);
    });
  return {
    label,
    child,
    next,
    exited,
    get alive() {
      return exit === null;
    },
  };
}

/** A promise we await later: keep its rejection from counting as unhandled meanwhile. */
function later(promise) {
  promise.catch(() => {});
  return promise;
}

const ms = (from, to) => (Number(to - from) / 1e6).toFixed(1);

exports.run = async function run() {
  const mutex = new Mutex(); // no name: a unique one; children get it by reference
  const shm = new SharedMemory(undefined, { size: 4 * (1 + kWorkers) });
  const bytes = shm.buffer;
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, 1 + kWorkers); // [counter, progress x4]
  const workers = [];
  try {
    say('parent', `created mutex "${mutex.name}" and a ${shm.size}-byte segment holding the counter`);
    const refs = JSON.parse(JSON.stringify({ mutex, shm }));
    for (let index = 0; index < kWorkers; index++) {
      const w = forkWorker(`w${index + 1}`);
      workers.push(w);
      const victim = index === kVictim;
      w.child.send({
        type: 'setup',
        ...refs,
        index,
        iterations: victim ? -1 : kIterations,
        holdAt: victim ? kHoldAt : -1,
      });
    }
    await Promise.all(workers.map((w) => w.next('ready')));
    const victim = workers[kVictim];
    const survivors = workers.filter((w) => w !== victim);
    say(
      'parent',
      `forked ${workers.map((w) => w.label).join(', ')} (pids ${workers.map((w) => w.child.pid).join(', ')}); each loops: lock, read the counter,`,
    );
    say(
      'parent',
      `write it + 1, unlock. ${survivors.map((w) => w.label).join(', ')} do ${kIterations} increments each; ${victim.label} keeps going until it`,
    );
    say('parent', `finds the counter at ${kHoldAt} or more, and then stops right there, holding the lock`);

    const holding = later(victim.next('holding'));
    const done = survivors.map((w) => later(w.next('done')));
    for (const w of workers) w.child.send({ type: 'go' });

    const { value } = await holding;
    const killedAt = process.hrtime.bigint();
    victim.child.kill('SIGKILL');
    const survivorsAtKill = survivors.reduce((sum, w) => sum + Atomics.load(words, 1 + workers.indexOf(w)), 0);
    say(victim.label, `holds the lock mid-increment: read ${value}, has not written ${value + 1} yet`);
    say('parent', `SIGKILL -> ${victim.label} (pid ${victim.child.pid})`);
    const victimExit = await victim.exited;
    if (victimExit.signal !== 'SIGKILL')
      throw new Error(`${victim.label} ended with ${JSON.stringify(victimExit)}, not SIGKILL`);
    const victimDone = Atomics.load(words, 1 + kVictim);
    say('parent', `${victim.label} is gone; its progress word says it completed ${victimDone} increments`);

    // The survivors carry on: one of them takes the lock from the dead holder (ownerDied).
    const reports = await Promise.all(done);
    for (const w of survivors) {
      const { code, signal } = await w.exited;
      if (code !== 0) throw new Error(`${w.label} exited with code ${code}, signal ${signal}`);
    }
    const recoveries = [];
    survivors.forEach((w, i) => {
      if (reports[i].recoveredAt !== null) recoveries.push({ who: w.label, at: reports[i].recoveredAt });
    });
    const afterKill = kIterations * survivors.length - survivorsAtKill;
    say('parent', `the survivors finished their ${kIterations} increments each, ${afterKill} of them after the kill`);

    // Read the total under the lock. Had nobody waited when the victim died, this acquisition
    // would be the one to recover the lock (and say so).
    mutex.once('ownerDied', () => recoveries.push({ who: 'parent', at: process.hrtime.bigint() }));
    if (!mutex.acquireSync({ timeout: 5_000 })) throw new Error('could not take the lock for the final read');
    let total;
    try {
      total = words[0];
    } finally {
      mutex.release();
    }
    mutex.removeAllListeners('ownerDied');

    for (const r of recoveries)
      say(r.who, `got the lock next, with ownerDied set: ${ms(killedAt, r.at)} ms after the kill`);
    const info = mutex.info();
    say(
      'parent',
      `mutex.info(): ownerDeaths ${info.ownerDeaths}, locked ${info.locked}, ${info.acquisitions} acquisitions`,
    );
    const expected = kIterations * survivors.length + victimDone;
    say(
      'parent',
      `final total ${total}; expected ${survivors.length} x ${kIterations} + ${victimDone} (the killed worker's) = ${expected}`,
    );
    if (total !== expected) throw new Error(`the counter is ${total}, expected ${expected}: increments were lost`);
    if (info.ownerDeaths !== 1) throw new Error(`info().ownerDeaths is ${info.ownerDeaths}, expected 1`);
    if (recoveries.length !== 1)
      throw new Error(`expected one recovery from the dead holder, saw ${recoveries.length}`);
    say('parent', 'exact: no increment lost, and the owner death was reported');
  } finally {
    for (const w of workers) {
      if (w.alive) w.child.kill('SIGKILL');
    }
    await Promise.all(workers.map((w) => w.exited));
    mutex.close();
    shm.close();
    const gone = [Mutex.unlink(mutex.name), shm.unlink()].every(Boolean);
    if (gone) say('parent', 'closed and unlinked the mutex and the segment');
  }
};
