// Golden output of `shmsync ls` and `shmsync inspect` (80-column table layout), with the parts
// that differ per run normalised: the unique name base, the uid column, times, table ids.
// Regenerate after an intended layout change: SHMSYNC_UPDATE_GOLDEN=1 node scripts/run-tap.js test/40-cli-golden.ts
import t, { type Test } from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Mutex, ShmQueue } from '../dist';
import { forkReady } from './helpers/fork';
import { cliBase, runCli } from './helpers/cli';

const goldenDir = path.join(__dirname, 'fixtures', 'golden');
const shm = (name: string): string => `/dev/shm/shmsync-${name}`;

function normalise(text: string, base: string): string {
  return (
    text
      .split(base)
      .join('BASE00000') // same length: columns do not move
      .split('\n')
      .map((l) =>
        /^\S+\s+BASE00000/.test(l) && /^\d+\s*$/.test(l.slice(33, 39))
          ? `${l.slice(0, 33)}${'UID'.padEnd(6)}${l.slice(39)}`
          : l,
      )
      .map((l) =>
        /^\S+\s+BASE00000/.test(l) && l.slice(44, 53).trim() === String(process.pid)
          ? `${l.slice(0, 44)}${'PID'.padEnd(9)}${l.slice(53)}`
          : l,
      )
      .join('\n')
      // The holder's command name: 'node', or 'MainThread' on Node >= 24 (it names its main thread).
      .replace(/^users {7}\d+ \((?:node|MainThread), map\)$/m, 'users       PID (node, map)')
      .replace(/uid \d+/g, 'uid UID')
      .replace(/modified \S+/g, 'modified TIME')
      .replace(/owner table [0-9a-f]+/g, 'owner table ID')
      .replace(/^( {2}00[45]0: ).*$/gm, '$1WORDS')
  ); // lock word, owner table id
}

function golden(t: Test, file: string, actual: string): void {
  const p = path.join(goldenDir, file);
  if (process.env.SHMSYNC_UPDATE_GOLDEN === '1') fs.writeFileSync(p, actual);
  t.equal(actual, fs.readFileSync(p, 'utf8'), `matches ${path.relative(process.cwd(), p)}`);
}

t.test('ls and inspect: table layout', async (t) => {
  const base = cliBase();
  const names = [base, `${base}-q`, `${base}-bad`];
  t.teardown(() => {
    for (const n of names) fs.rmSync(shm(n), { force: true });
  });
  const leaver = await forkReady('cli-objects.js');
  leaver.send({ type: 'leave', name: base });
  await leaver.message('leave');
  leaver.kill('SIGTERM');
  await leaver.exited;
  fs.writeFileSync(shm(`${base}-bad`), Buffer.alloc(192, 0xab), { mode: 0o600 });
  // Mapped by this process: other suites running concurrently clean up unmapped leftovers.
  const m = new Mutex(base, { create: 'open' });
  const q = new ShmQueue(`${base}-q`, { create: 'open' });
  t.teardown(() => {
    m.close();
    q.close();
  });

  const ls = await runCli(['ls', `${base}*`]);
  t.equal(ls.code, 0, ls.stderr);
  const table = normalise(ls.stdout, base)
    .split('\n')
    .filter((l) => !l.includes('could not be read'))
    .join('\n');
  for (const line of ls.stdout.split('\n')) t.ok(line.length <= 80, `fits 80 columns: ${line}`);
  golden(t, 'ls.txt', table);

  const insp = await runCli(['inspect', base]);
  t.equal(insp.code, 0, insp.stderr);
  golden(t, 'inspect-mutex.txt', normalise(insp.stdout, base));
});
