// Leak checks under --expose-gc: creating and dropping many handles, guards, queues, shared
// values and pools keeps the heap (+ external memory) and the process's /dev/shm mappings
// bounded, and leaves no named segment behind. Each kind runs in its own child process
// (test/fixtures/gc-churn.js) so the measurement sees only that churn.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { testName } from '../helpers/shm';
import { rounds as scaledRounds } from '../helpers/scale';

// Each kind churns for 10-60 s on a loaded 2-core machine: more than the suite's default.
t.setTimeout(600_000);

// Over the measured 90 % of the rounds, this bound catches a leak of about 50 bytes per Mutex
// round, 250 per queue round, 500 per value round (a retained handle costs more than that).
const kSlackBytes = 4 << 20;

interface Report {
  baseline: number;
  final: number;
  peak: number;
  maps: number[];
  created: number;
  unlinked: number;
  left: string[];
}

function churn(kind: string, rounds: number): Promise<Report> {
  const prefix = testName(`gc-${kind}`);
  const child = spawn(
    process.execPath,
    ['--expose-gc', path.join(__dirname, '..', 'fixtures', 'gc-churn.js'), kind, String(rounds), prefix],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  return new Promise((resolve, reject) =>
    child.on('close', (code, signal) => {
      if (code !== 0) reject(new Error(`gc-churn ${kind} exited with ${signal ?? code}`));
      else resolve(JSON.parse(out) as Report);
    }),
  );
}

function judge(t: Test, kind: string, rounds: number, r: Report, perRound: number): void {
  const growth = r.final - r.baseline;
  t.comment(
    `${kind}: ${rounds} rounds, heap+external ${r.baseline} -> ${r.final} (peak ${r.peak}), /dev/shm mappings ${r.maps.join(' -> ')}`,
  );
  t.ok(
    growth < kSlackBytes,
    `${kind}: memory after the churn stays within ${kSlackBytes >> 20} MiB of the baseline (grew ${growth} bytes, ${(growth / (rounds * 0.9)).toFixed(1)} per round)`,
  );
  t.ok(r.peak - r.baseline < kSlackBytes * 2, `${kind}: and so does the peak between collections`);
  t.ok(r.maps[2] <= r.maps[0] + 1, `${kind}: no mapping accumulates (${r.maps[0]} -> ${r.maps[2]})`);
  t.same(r.left, [], `${kind}: no named segment left in /dev/shm`);
  t.equal(r.unlinked, r.created, `${kind}: every segment it created was unlinked (${r.created})`);
  void perRound;
}

t.test('100 000 Mutex handles and guards (Promise and sync) created, used, closed', async (t) => {
  judge(t, 'mutex', 100_000, await churn('mutex', 100_000), 0);
});

// 150 000 rounds: a handle kept after collection (its WeakRef and engine share, ~60 bytes - the
// leak before every handle was registered for finalization) grows ~9 MB, past the slack.
t.test('150 000 Mutex handles of a persistent mutex dropped without close() are collected', async (t) => {
  judge(t, 'mutex-dropped', 150_000, await churn('mutex-dropped', 150_000), 0);
});

t.test('20 000 ShmQueue handles opened, used, closed or dropped', async (t) => {
  judge(t, 'queue', 20_000, await churn('queue', 20_000), 0);
});

t.test('10 000 SharedValues and 10 000 SharedMemory segments created, closed or dropped, unlinked', async (t) => {
  judge(t, 'values', 10_000, await churn('values', 10_000), 0);
});

const kPools = scaledRounds(200, 40);
t.test(`${kPools} ProcessPools created and closed (every fourth runs a pcall)`, async (t) => {
  judge(t, 'pool', kPools, await churn('pool', kPools), 0);
});
