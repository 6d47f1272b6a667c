// A process must not exit while one of its Promise waits is pending (docs/concepts/wake-path.md,
// "Keeping the event loop alive"). Two processes ping-pong over two queues with every wait a
// Promise wait (`await get()` on both sides), with timeouts and aborts racing the wake-ups, and
// with Promise waits on a Mutex and an RwLock in the same contexts. Neither side has an IPC
// channel or a timer holding its loop: only the outstanding waits do. Each side must print its
// final 'DONE' line; a side that exits without it lost the loop reference with a wait pending
// (its peer then waits forever: the parent kills it). Both wake modes, and with two copies of the
// library's JS over one native addon instance (a bundle next to the package, a test runner's
// fresh module registry), whose second init() replaced the dispatcher: the first copy's
// completions were dropped and the process exited silently with its get() pending.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { Mutex, RwLock, ShmQueue } from '../dist';
import { fixturesDir } from './helpers/fork';
import { testName } from './helpers/shm';

const fixture = path.join(fixturesDir, 'wake-liveness.js');
const rounds = 4;
const trips = 150;
/** A round takes well under a second; a pair still running after this is stuck (the peer of a side
 * that lost a completion waits forever), not slow. Only ends a failing round early. */
const kStuckMs = 30_000;

interface Outcome {
  side: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

function pair(args: (side: string) => string[], env: NodeJS.ProcessEnv): Promise<Outcome[]> {
  const procs = ['a', 'b'].map((side) => ({ side, proc: spawn(process.execPath, [fixture, ...args(side)], { env }) }));
  const stuck = setTimeout(() => {
    for (const p of procs) p.proc.kill('SIGKILL');
  }, kStuckMs);
  const all = Promise.all(
    procs.map(
      ({ side, proc }) =>
        new Promise<Outcome>((resolve) => {
          let out = '';
          let err = '';
          proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
          proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
          proc.on('exit', (code, signal) => {
            // A side that ended without its last line leaves its peer waiting forever.
            if (!/^DONE /m.test(out) || code !== 0) for (const p of procs) if (p.proc !== proc) p.proc.kill('SIGKILL');
            resolve({ side, code, signal, out, err });
          });
        }),
    ),
  );
  return all.finally(() => clearTimeout(stuck));
}

for (const mode of ['direct', 'parker'] as const) {
  for (const copies of [1, 2]) {
    t.test(`[${mode}] ${copies} cop${copies === 1 ? 'y' : 'ies'} of the JS: no exit with a wait pending`, async (t) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (mode === 'parker') env.SHMSYNC_WAKE = 'parker';
      else delete env.SHMSYNC_WAKE;
      for (let r = 0; r < rounds; r++) {
        const tag = `live-${mode}-${copies}-${r}`;
        const ping = new ShmQueue(testName(`${tag}-ping`), { create: 'create', codec: 'raw', capacity: 4096 });
        const pong = new ShmQueue(testName(`${tag}-pong`), { create: 'create', codec: 'raw', capacity: 4096 });
        const mutexName = testName(`${tag}-m`);
        const rwName = testName(`${tag}-rw`);
        const m = new Mutex(mutexName, { create: 'create' });
        const rw = new RwLock(rwName);
        try {
          const outcomes = await pair(
            (side) => [side, ping.name, pong.name, mutexName, rwName, String(trips), copies === 2 ? '1' : '0'],
            env,
          );
          for (const o of outcomes) {
            const done = /^DONE .*/m.exec(o.out);
            t.ok(
              done !== null && o.code === 0,
              `round ${r} side ${o.side}: ${done ? done[0] : `no final line (code ${o.code}, signal ${o.signal}) ${o.out}${o.err}`}`,
            );
            if (done) t.match(done[0], /outstanding=0/, `round ${r} side ${o.side}: nothing left counted`);
          }
          if (outcomes.some((o) => o.code !== 0)) break; // one failing round says it
        } finally {
          ping.close();
          pong.close();
          m.close();
          rw.close();
          ShmQueue.unlink(ping.name);
          ShmQueue.unlink(pong.name);
          Mutex.unlink(mutexName);
          RwLock.unlink(rwName);
        }
      }
    });
  }
}

for (const mode of ['direct', 'parker'] as const) {
  t.test(`[${mode}] two copies in one process: a get() parked by one, woken by the other's put`, async (t) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (mode === 'parker') env.SHMSYNC_WAKE = 'parker';
    else delete env.SHMSYNC_WAKE;
    const q = new ShmQueue(testName(`live-single-${mode}`), { create: 'create', codec: 'string', capacity: 4096 });
    t.teardown(() => {
      q.close();
      ShmQueue.unlink(q.name);
    });
    const proc = spawn(process.execPath, [fixture, 'single', q.name], { env });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    t.equal(code, 0, 'exits by itself');
    t.match(out, /^DONE single hello$/m, `the await resumed before the exit (output: ${JSON.stringify(out)})`);
  });
}

t.test("a worker's own environment chooses its wake mode (new Worker(f, { env: { SHMSYNC_WAKE } }))", async (t) => {
  // getenv() in native code sees only the process's environment, not a worker's own copy: the
  // mode comes through init() from the context's process.env (before: direct watches regardless).
  const { Worker } = await import('node:worker_threads');
  const source = `
    const { parentPort } = require('node:worker_threads');
    const { ShmQueue } = require(${JSON.stringify(path.join(__dirname, '..', 'dist'))});
    const { binding } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'addon', 'binding'))});
    const q = new ShmQueue(undefined, { capacity: 4096 });
    q.get({ timeout: 1 }).catch(() => undefined).then(() => {
      parentPort.postMessage(binding.waitStats());
      q.close();
    });`;
  const statsIn = async (wake: string | undefined): Promise<{ directWatches: boolean }> => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (wake === undefined) delete env.SHMSYNC_WAKE;
    else env.SHMSYNC_WAKE = wake;
    const w = new Worker(source, { eval: true, env });
    const stats = await new Promise<{ directWatches: boolean }>((resolve) => w.once('message', resolve));
    await w.terminate();
    return stats;
  };
  t.equal((await statsIn('parker')).directWatches, false, "SHMSYNC_WAKE=parker in the worker's env: parker thread");
  const auto = await statsIn(undefined);
  t.comment(`without it: direct watches ${auto.directWatches ? 'used' : 'unavailable on this kernel'}`);
});
