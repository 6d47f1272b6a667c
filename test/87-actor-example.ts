// examples/actor-pipeline: the seed's demo chain 3 → 10 → 5 → 1 run as a real program (every
// actor a child process), its printed summary checked - every message handled exactly once by
// the Handler, the aggregate right, the actors' log records routed to the main process - and
// nothing it created left in /dev/shm.
import t from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const kMain = path.join(__dirname, '..', 'examples', 'actor-pipeline', 'main.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

function run(args: string[]): Promise<Run> {
  // tap's process tracker rides in NODE_OPTIONS; the example's actor children must not load it.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [kMain, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid ?? -1 }));
  });
}

/** Segments named by the library in process `pid` (`<kind>-<pid in base 36>-<hex>`) still in /dev/shm. */
function segmentsOf(pid: number): string[] {
  const tag = `-${pid.toString(36)}-`;
  return fs.readdirSync('/dev/shm').filter((n) => n.startsWith('shmsync-') && n.includes(tag));
}

t.test('3 producers → 10 → 5 → 1 consumer, a Handler aggregating: every message exactly once', async (t) => {
  const n = 200;
  const r = await run([String(n)]);
  t.equal(r.stderr, '', 'nothing on stderr');
  t.same({ code: r.code, signal: r.signal }, { code: 0, signal: null }, `exit status\n${r.stdout}`);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], 'relay: prod 3 → prep 10 → post 5 → cons 1 (19 actors in child processes), maxsize 50');
  t.ok(lines.includes(`handled ${3 * n} of ${3 * n} messages, each exactly once: yes`), 'exactly once');
  const sum = 3 * ((n * (n - 1) * (2 * n - 1)) / 6 + n); // Σ (i² + 1), i < n, per producer
  t.ok(lines.includes(`sum of x² + 1: ${sum} (expected ${sum})`), 'the aggregate');
  for (const p of [1, 2, 3]) {
    t.ok(
      lines.some((l) =>
        new RegExp(`^INFO:actor-pipeline:\\[prod\\] \\(Producer-${p}\\) produced ${n} messages$`).test(l),
      ),
      `producer ${p}'s log record, prefixed with its group and name`,
    );
  }
  t.ok(
    lines.includes(`INFO:actor-pipeline:[cons] (Consumer-1) consumed ${3 * n} messages`),
    'the consumer logs from shutdown()',
  );
  t.match(r.stdout, /^prep actors used: (\d+) of 10, post actors used: (\d+) of 5$/m);
  t.same(segmentsOf(r.pid), [], 'the relay removed its queues and counters');
});

t.test('a bad argument: usage on stderr, exit code 2, no actor started', async (t) => {
  const r = await run(['zero']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^usage: node main\.js \[messages per producer\] \[--threads\]/);
  t.equal(r.stdout, '');
});
