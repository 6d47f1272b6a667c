/**
 * Issue 9 item 10: a full /dev/shm is a coded error (SHMSYNC_NO_SPACE), never SIGBUS, and no
 * failure leaves a temporary file behind. Each case runs a child in a private mount namespace
 * with a small tmpfs mounted over /dev/shm (`unshare --mount`), so the real one is untouched.
 * Needs root (or CAP_SYS_ADMIN) and util-linux unshare; skipped otherwise.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const fixture = path.join(__dirname, 'fixtures', 'shm-full.js');
const probe = spawnSync(
  'unshare',
  ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs /dev/shm'],
  { encoding: 'utf8' },
);
const skip = probe.status !== 0 ? `unshare --mount + tmpfs not available here (${(probe.stderr || '').trim()})` : false;

interface Step {
  what: string;
  ok: boolean;
  code?: string;
  message?: string;
}
interface Report {
  phase: string;
  steps: Step[];
  files: string[];
}

function runFull(
  phase: string,
  size: string,
): { report: Report | null; status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount -t tmpfs -o size=${size} tmpfs /dev/shm && exec "${process.execPath}" "${fixture}" ${phase}`,
    ],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const line = (r.stdout || '').trim().split('\n').pop() || '';
  let report: Report | null = null;
  try {
    report = JSON.parse(line) as Report;
  } catch {
    /* reported below */
  }
  return { report, status: r.status, signal: r.signal, stderr: r.stderr };
}

const stepOf = (r: Report, what: string): Step | undefined => r.steps.find((s) => s.what === what);

t.test(
  'the owner table does not fit: the first Mutex throws SHMSYNC_NO_SPACE and leaves no file',
  { skip },
  async (t) => {
    const { report, status, signal, stderr } = runFull('owner-table', '128k');
    t.equal(signal, null, `no signal (stderr: ${stderr.slice(0, 300)})`);
    t.equal(status, 0, 'the child exits normally');
    t.ok(report, 'the child reported');
    if (!report) return;
    const m = stepOf(report, 'mutex')!;
    t.equal(m.ok, false, 'new Mutex() fails');
    t.equal(m.code, 'SHMSYNC_NO_SPACE', `coded error (${m.message})`);
    t.same(report.files, [], 'nothing left in /dev/shm (no shmsync.tmp-* file)');
  },
);

t.test(
  'filling /dev/shm: creations fail with SHMSYNC_NO_SPACE, none leaves a file, space freed is usable again',
  { skip },
  async (t) => {
    const { report, status, signal, stderr } = runFull('fill', '1m');
    t.equal(signal, null, `no signal (stderr: ${stderr.slice(0, 300)})`);
    t.equal(status, 0, 'the child exits normally');
    t.ok(report, 'the child reported');
    if (!report) return;
    t.equal(stepOf(report, 'mutex')?.ok, true, 'the first Mutex (and the owner table) fit');
    const shms = report.steps.filter((s) => s.what.startsWith('shm-'));
    t.ok(shms.filter((s) => s.ok).length >= 2, 'some segments were created');
    const failed = shms[shms.length - 1];
    t.equal(failed.ok, false, 'then the tmpfs is full');
    t.equal(failed.code, 'SHMSYNC_NO_SPACE', `coded error (${failed.message})`);
    for (const what of ['queue', 'array']) {
      const s = stepOf(report, what)!;
      t.equal(s.code, 'SHMSYNC_NO_SPACE', `${what}: coded error`);
    }
    t.equal(stepOf(report, 'after-free')?.ok, true, 'after freeing space a creation succeeds');
    t.equal(stepOf(report, 'lock')?.ok, true, 'the existing lock still works');
    t.same(
      report.files.filter((f) => f.includes('.tmp-')),
      [],
      'no temporary file left behind',
    );
    t.same(
      report.files.filter((f) => /full-(queue|array)/.test(f)),
      [],
      'failed creations left no segment',
    );
  },
);
