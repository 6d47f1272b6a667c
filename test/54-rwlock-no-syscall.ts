import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturesDir } from './helpers/fork';

// "Uncontended RwLock requests and releases make no syscall" (the guard is taken and freed with
// one CAS each; a release wakes only when someone sleeps), and neither does an uncontended
// locks.request() of a name used before: futex calls of a child doing N cycles, minus those of
// the same child doing none, must not grow with N (as test/06-no-syscall.ts for the Mutex).

const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
const cycles = 20_000;

function futexCalls(n: number): number {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-strace-')), 'trace');
  try {
    execFileSync(
      'strace',
      [
        '-f',
        '-c',
        '-e',
        'trace=futex,futex_waitv',
        '-o',
        out,
        process.execPath,
        path.join(fixturesDir, 'rwlock-no-syscall.js'),
        String(n),
      ],
      { stdio: 'ignore', env: process.env },
    );
    let calls = 0;
    for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols[cols.length - 1] === 'futex' || cols[cols.length - 1] === 'futex_waitv') calls += Number(cols[3]);
    }
    return calls;
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}

t.test(
  `${cycles} uncontended RwLock cycles (sync shared, sync exclusive, Promise shared) and locks.request() calls make no futex call`,
  { skip: strace.status === 0 ? false : 'strace is not installed' },
  (t) => {
    const idle = futexCalls(0);
    const busy = futexCalls(cycles);
    t.comment(`futex calls: ${idle} with 0 cycles, ${busy} with ${cycles} of each`);
    // A syscall per cycle would add >= 1 call per cycle (4 x 20 000 here); Node's own threads add
    // about 1 per 150 cycles. The bound sits between the two.
    const perCycle = (busy - idle) / (4 * cycles);
    t.ok(perCycle < 0.05, `futex calls per cycle ${perCycle.toFixed(4)} (${idle} -> ${busy})`);
    t.end();
  },
);
