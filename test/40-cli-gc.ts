// `shmsync gc` / `rm` and scripts/clean-shm.js: leftovers go, live segments stay - including a
// segment only its creator maps (under its temporary name), which path-based checks misjudged.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Child, forkReady } from './helpers/fork';
import { cliBase, runCli } from './helpers/cli';

const shm = (name: string): string => `/dev/shm/shmsync-${name}`;
const exists = (name: string): boolean => fs.existsSync(shm(name));

async function ask(child: Child, type: string, name: string): Promise<any> {
  child.send({ type, name });
  const m = await child.message<any>(type);
  if (m.error) throw new Error(`fixture ${type} failed: ${m.error}`);
  return m;
}

function cleanup(t: Test, ...names: string[]): void {
  t.teardown(() => {
    for (const n of names) fs.rmSync(shm(n), { force: true });
  });
}

/** Leftovers: a mutex and a queue whose creator exited. Live: a held lock, a creator-only mutex. */
async function scene(t: Test): Promise<{ base: string; holder: Child; creatorPid: number }> {
  const base = cliBase();
  cleanup(t, `${base}-left`, `${base}-left-q`, `${base}-live-held`, `${base}-live-mine`);
  const leaver = await forkReady('cli-objects.js');
  await ask(leaver, 'leave', `${base}-left`);
  leaver.kill('SIGTERM');
  await leaver.exited;
  const holder = await forkReady('cli-objects.js');
  t.teardown(() => holder.kill());
  await ask(holder, 'hold', `${base}-live-held`);
  const { pid } = await ask(holder, 'create', `${base}-live-mine`);
  return { base, holder, creatorPid: pid };
}

function runScript(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'scripts', 'clean-shm.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

t.test('gc: dry run by default, --yes removes only what no live process uses', async (t) => {
  const { base, creatorPid } = await scene(t);
  const dry = await runCli(['gc', '--json', `${base}-*`]);
  t.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout);
  t.equal(plan.dryRun, true);
  const action = (r: any[], n: string): string => r.find((x) => x.name === n)?.action;
  t.equal(action(plan.results, `${base}-left`), 'would remove');
  t.equal(action(plan.results, `${base}-left-q`), 'would remove');
  t.equal(action(plan.results, `${base}-live-held`), 'kept');
  t.equal(action(plan.results, `${base}-live-mine`), 'kept');
  t.match(
    plan.results.find((x: any) => x.name === `${base}-live-mine`).reason,
    new RegExp(`in use by .*${creatorPid}`),
  );
  t.ok(exists(`${base}-left`) && exists(`${base}-left-q`), 'a dry run removes nothing');
  const text = await runCli(['gc', `${base}-*`]);
  t.match(text.stdout, /2 segment\(s\) no live process uses; run with --yes/);

  const real = await runCli(['gc', '--yes', `${base}-*`]);
  t.equal(real.code, 0, real.stderr);
  t.match(real.stdout, /removed 2 segment\(s\)/);
  t.notOk(exists(`${base}-left`), 'leftover mutex removed');
  t.notOk(exists(`${base}-left-q`), 'leftover queue removed');
  t.ok(exists(`${base}-live-held`), 'held lock kept');
  t.ok(exists(`${base}-live-mine`), 'segment only its creator maps kept');
});

t.test('clean-shm --remove: same judgement (identity, not path)', async (t) => {
  const { base } = await scene(t);
  const r = await runScript(['--remove', `${base}-*`]);
  t.equal(r.code, 0);
  t.notOk(exists(`${base}-left`));
  t.notOk(exists(`${base}-left-q`));
  t.ok(exists(`${base}-live-held`), 'held lock kept');
  t.ok(exists(`${base}-live-mine`), 'segment only its creator maps kept (the path-based check removed it)');
  t.match(r.stdout, new RegExp(`shmsync-${base}-live-mine .*in use`));
});

t.test('rm: removes by name, refuses live objects without --force, exit codes', async (t) => {
  const { base, holder } = await scene(t);
  const ok = await runCli(['rm', `${base}-left`, `shmsync-${base}-left-q`]);
  t.equal(ok.code, 0, ok.stderr);
  t.notOk(exists(`${base}-left`));
  t.notOk(exists(`${base}-left-q`));
  const live = await runCli(['rm', `${base}-live-mine`]);
  t.equal(live.code, 1);
  t.match(live.stderr, /in use by/);
  t.ok(exists(`${base}-live-mine`));
  const missing = await runCli(['rm', '--json', `${base}-nothing`]);
  t.equal(missing.code, 1);
  t.match(JSON.parse(missing.stdout).results, [{ action: 'failed', reason: 'no such object' }]);
  const forced = await runCli(['rm', '--force', `${base}-live-held`]);
  t.equal(forced.code, 0, forced.stderr);
  t.notOk(exists(`${base}-live-held`));
  // The holder keeps its mapping: still answers.
  await ask(holder, 'create', `${base}-live-after`);
  cleanup(t, `${base}-live-after`);
});

t.test('usage errors exit 2, --help exits 0 for every command', async (t) => {
  for (const args of [
    ['nosuch'],
    ['inspect'],
    ['rm'],
    ['watch', '--interval', '1', '--count', '1'],
    ['ls', '--bogus'],
    [],
  ]) {
    const r = await runCli(args);
    t.equal(r.code, 2, `shmsync ${args.join(' ')}: ${r.stderr}`);
  }
  for (const cmd of ['ls', 'inspect', 'rm', 'gc', 'watch', 'bench']) {
    const r = await runCli([cmd, '--help']);
    t.equal(r.code, 0, cmd);
    t.match(r.stdout, new RegExp(`Usage: shmsync ${cmd}`));
    for (const line of r.stdout.split('\n')) t.ok(line.length <= 80, `${cmd} --help fits 80 columns`);
  }
  const missing = await runCli(['inspect', `${cliBase()}-nothing`]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no shmsync object/);
});

t.test(
  'gc keeps an attached segment whose reference is in flight, and reaps it once opened and released',
  async (t) => {
    const { SharedMemory } = require('../dist') as typeof import('../dist');
    const base = cliBase();
    const name = `${base}-inflight`;
    cleanup(t, name);
    const sender = new SharedMemory(name, { size: 8, lifetime: 'attached' });
    const ref = JSON.parse(JSON.stringify(sender)) as { name: string }; // a hand-off: lease pending
    sender.close(); // the sender is gone; only the lease keeps the segment
    t.ok(exists(name), 'the lease keeps it after its last handle closed');
    const run = await runCli(['gc', '--yes', '--json', name]);
    t.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout).results.find((x: { name: string }) => x.name === name);
    t.equal(r?.action, 'kept', 'gc keeps a segment whose hand-off may still be opened');
    t.match(r?.reason, /hand-off in flight/);
    t.ok(exists(name));
    const receiver = new SharedMemory(ref.name, { create: 'open' });
    receiver.close(); // the receiver was its last user: removed by its own close
    t.notOk(exists(name), 'opened and released: gone');
  },
);
