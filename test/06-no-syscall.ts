import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturesDir } from './helpers/fork';

// "Uncontended acquire/release makes no syscall; a release wakes only when someone waits", and
// the same for queue puts/gets when nobody sleeps: futex calls of a child doing N cycles of each
// fast path, minus those of the same child doing none (Node's own threads use a few), must not
// grow with N.

const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
const cycles = 50_000;

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
        path.join(fixturesDir, 'no-syscall.js'),
        String(n),
      ],
      { stdio: 'ignore', env: process.env },
    );
    // -c summary: "% time seconds usecs/call calls errors syscall" rows.
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
  `${cycles} uncontended lock, Promise lock and queue put+get cycles make no futex call`,
  { skip: strace.status === 0 ? false : 'strace is not installed' },
  (t) => {
    const idle = futexCalls(0);
    const busy = futexCalls(cycles);
    t.comment(`futex calls: ${idle} with 0 cycles, ${busy} with ${cycles} of each`);
    // A syscall per cycle would add >= 1 call per cycle (3 x 50 000 here). What does grow with a
    // longer run is Node's own GC and platform threads (about 1 call per 150 cycles measured):
    // the bound, 1 call per 20 cycles, sits between the two.
    const perCycle = (busy - idle) / (3 * cycles);
    t.ok(perCycle < 0.05, `futex calls per cycle ${perCycle.toFixed(4)} (${idle} -> ${busy})`);
    t.end();
  },
);
