// The suite's /dev/shm leak check (scripts/run-tap.js) judges only what the suite's own
// processes created: a segment another program creates during the run is not a leak; a
// segment the suite leaves behind is, wherever in the suite it was created.
//
// Each case runs scripts/run-tap.js on test/fixtures/leak-check-suite.ts, a real nested run.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Child } from './helpers/fork';
import { SharedMemory } from '../dist';
import { testName } from './helpers/shm';

const root = path.join(__dirname, '..');
const suite = 'test/fixtures/leak-check-suite.ts';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function startRun(mode: string, dir: string): Promise<Outcome> {
  const child = spawn(process.execPath, [path.join(root, 'scripts', 'run-tap.js'), suite], {
    cwd: root,
    env: {
      ...process.env,
      LEAK_CHECK_MODE: mode,
      LEAK_CHECK_DIR: dir,
      SHMSYNC_TAP_RESULTS: path.join(dir, 'results.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-leak-check-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test("another program's segments created during the run are not the suite's leak", async (t) => {
  const dir = tmpDir(t);
  for (const fifo of ['started', 'go']) {
    t.equal(spawnSync('mkfifo', [path.join(dir, fifo)]).status, 0, `mkfifo ${fifo}`);
  }
  const run = startRun('foreign', dir);
  // Wait until the nested suite is mid-run (it opens `started` for writing), or has ended.
  const started = fs.promises.readFile(path.join(dir, 'started'), 'utf8');
  const first = await Promise.race([started, run.then((r) => r)]);
  if (typeof first !== 'string') {
    // The run ended without reaching the handshake: unblock our pending read, report.
    fs.closeSync(fs.openSync(path.join(dir, 'started'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    await started;
    t.fail(`nested run ended early:\n${first.stdout}\n${first.stderr}`);
    return;
  }
  // The other program: not a descendant of the nested run, its own owner table.
  const foreign = new Child('shm-foreign.js', [], {
    env: { ...process.env, SHMSYNC_OWNER_TABLE: testName('foreign-owners') },
  });
  const { names } = await foreign.message<{ type: string; names: string[] }>('ready');
  await fs.promises.writeFile(path.join(dir, 'go'), 'go\n');
  const result = await run;
  t.ok(
    names.every((n) => fs.existsSync(path.join('/dev/shm', n))),
    'the foreign segments still existed when the run ended',
  );
  foreign.send({ type: 'release' });
  t.same(await foreign.exited, { code: 0, signal: null }, 'the other program removed its segments');
  t.notOk(
    names.some((n) => fs.existsSync(path.join('/dev/shm', n))),
    'and they are gone',
  );

  t.equal(result.code, 0, `the nested run passes\n${result.stdout.split('\n').slice(-6).join('\n')}`);
  t.match(result.stdout, /^ok - the suite left no segment in \/dev\/shm$/m, 'its leak check passes');
  t.match(
    result.stdout,
    /^# \d+ shmsync segment\(s\) appeared meanwhile that the suite did not create/m,
    'and notes the segments it did not judge',
  );
  t.match(JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')), { failed: 0 }, 'totals: no failure');
});

t.test('segments the suite leaves behind fail the run and are removed', async (t) => {
  const dir = tmpDir(t);
  const result = await startRun('leak', dir);
  const leaked = (JSON.parse(fs.readFileSync(path.join(dir, 'leaked.json'), 'utf8')) as string[]).sort();
  t.teardown(() => {
    for (const n of leaked) fs.rmSync(path.join('/dev/shm', n), { force: true });
  });
  t.equal(result.code, 1, 'the nested run fails');
  const line = /^not ok - the suite left (\d+) segment\(s\) in \/dev\/shm: (.*)$/m.exec(result.stdout);
  t.ok(line, 'its leak check reports the leftovers');
  t.same(line?.[2].split(', '), leaked, 'exactly the three it left: anonymous, hand-written, from a child process');
  t.notOk(
    leaked.some((n) => fs.existsSync(path.join('/dev/shm', n))),
    'the check removed them',
  );
  t.match(
    JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')),
    { failed: 1 },
    'totals: the leak check is the one failure',
  );
});

t.test('clean-shm sees a segment mapped only by its creator as in use', async (t) => {
  // The creator maps a segment before publishing it, under its staging name: matching maps by
  // path took such a segment for unused, and `clean-shm --remove` unlinked it under its user.
  const shm = new SharedMemory(testName('creator-only'), { size: 64, create: 'create' });
  t.teardown(() => {
    shm.close();
    shm.unlink();
  });
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'clean-shm.js')], { encoding: 'utf8' });
  t.equal(r.status, 0, 'clean-shm lists');
  const line = r.stdout.split('\n').find((l) => l.startsWith(`shmsync-${shm.name} `));
  t.match(line, /in use \(mapped or open by pid \d+/, 'our live segment is listed as in use');
});
