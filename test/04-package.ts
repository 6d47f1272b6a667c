// The npm tarball installs and loads its prebuild on a machine without a compiler.
//
// Runs in a staging copy of the package (the files `npm pack` would ship, without prebuilds/):
// `npm run prebuild` there rebuilds the addon in the copy's own build/, so the shared build/
// that other test files load at the same time is never rebuilt under them.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SharedMemory } from '../dist';
import { testName } from './helpers/shm';

if (process.env.SHMSYNC_SKIP_PACK === '1') {
  t.plan(0, 'SHMSYNC_SKIP_PACK=1: skipping the prebuild + npm pack + offline install test');
  process.exit(0);
}

const root = path.join(__dirname, '..');
const npmCli = [
  process.env.npm_execpath,
  path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
].find((p) => p !== undefined && p.endsWith('npm-cli.js') && fs.existsSync(p));

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Run {
  const r = spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 26 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** `npm pack --json` in `dir`, tarball written to `dest`; returns its path and file list. */
function pack(dir: string, dest: string, extra: string[] = []): { tarball: string; files: string[] } {
  const r = run([npmCli!, 'pack', '--json', '--pack-destination', dest, ...extra], dir, process.env);
  if (r.code !== 0) throw new Error(`npm pack failed in ${dir}:\n${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { tarball: path.join(dest, info.filename), files: info.files.map((f) => f.path) };
}

const tmpDirs: string[] = [];
function tmpDir(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shmsync-${tag}-`));
  tmpDirs.push(dir);
  return dir;
}
t.teardown(() => { for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true }); });

t.test('the tarball carries a prebuild that loads without a compiler', async (t) => {
  if (npmCli === undefined) throw new Error('cannot find npm-cli.js next to this node binary');

  // 1. Stage exactly what `npm pack` ships from the repo, except any prebuilds/ lying around.
  const stage = tmpDir('stage');
  const shipped = pack(root, stage, ['--dry-run']).files.filter((f) => !f.startsWith('prebuilds/'));
  for (const f of shipped) fs.cpSync(path.join(root, f), path.join(stage, f), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'));

  // 2. A control tarball without prebuilds (packed before `npm run prebuild`).
  const control = pack(stage, tmpDir('control-pack'));
  t.notOk(control.files.some((f) => f.startsWith('prebuilds/')), 'control tarball has no prebuild');

  // 3. `npm run prebuild`, then the real tarball.
  const started = Date.now();
  const prebuild = run([npmCli, 'run', 'prebuild'], stage, { ...process.env, JOBS: 'max' }); // node-gyp: make -j
  t.same({ code: prebuild.code, signal: prebuild.signal }, { code: 0, signal: null }, 'npm run prebuild succeeds');
  if (prebuild.code !== 0) return void t.comment(prebuild.stderr);
  t.comment(`prebuild took ${Date.now() - started} ms`);
  const { tarball, files } = pack(stage, tmpDir('pack'));
  const prebuilt = files.filter((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
  t.equal(prebuilt.length, 1, `one linux-x64 prebuild in the tarball (${prebuilt.join(', ')})`);
  for (const must of ['package.json', 'binding.gyp', 'dist/index.js', 'dist/index.d.ts', 'dist/esm/index.mjs',
    'native/core/shm-region.cc', 'native/addon/addon.cc']) {
    t.ok(files.includes(must), `tarball has ${must}`);
  }
  t.same(files.filter((f) => /^(build|src|test|native\/test|benchmarks|examples)\//.test(f)), [],
    'no build output, sources, tests or benchmarks in the tarball');

  // 4. A PATH with node and a shell only: no compiler, no make, no python.
  const bin = tmpDir('bin');
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const bareEnv = { HOME: os.homedir(), PATH: bin, LANG: 'C' };
  const install = (tgz: string): { project: string; result: Run } => {
    const project = tmpDir('consumer');
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const result = run([npmCli, 'install', tgz, '--prefer-offline', '--no-audit', '--no-fund',
      '--ignore-scripts=false', '--foreground-scripts'], project, bareEnv);
    return { project, result };
  };

  const failed = install(control.tarball).result;
  t.not(failed.code, 0, 'control: without a prebuild the install must compile, and cannot here');
  t.match(failed.stdout + failed.stderr, /gyp|python|make|g\+\+/i, 'control: it failed trying to build');

  const { project, result } = install(tarball);
  t.same({ code: result.code, signal: result.signal }, { code: 0, signal: null }, 'npm install succeeds offline, no compiler');
  if (result.code !== 0) return void t.comment(result.stdout + result.stderr);
  const installed = path.join(project, 'node_modules', 'shmsync');
  t.notOk(fs.existsSync(path.join(installed, 'build')), 'nothing was compiled (no build/ in the installed package)');
  t.ok(fs.existsSync(path.join(installed, prebuilt[0])), 'the prebuild is installed');

  // 5. Load it from CommonJS and from ESM; create, use and unlink a segment; report the addon
  //    file actually mapped into the process.
  const loadedAddons = `require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n')
      .filter((l) => l.endsWith('.node')).map((l) => l.slice(l.indexOf('/')))`;
  const use = (name: string) => `
    const shm = new SharedMemory(${JSON.stringify(name)}, { size: 64, create: 'create' });
    shm.write(Buffer.from('ok'), 0);
    const text = shm.read(0, 2).toString();
    shm.close();
    const unlinked = shm.unlink();`;
  const cjsName = testName('pack-cjs');
  const esmName = testName('pack-esm');
  t.teardown(() => { SharedMemory.unlink(cjsName); SharedMemory.unlink(esmName); });
  const cjs = run(['-e', `
    const { SharedMemory } = require('shmsync');
    ${use(cjsName)}
    console.log(JSON.stringify({ text, unlinked, addons: [...new Set(${loadedAddons})] }));`], project, bareEnv);
  const esm = run(['--input-type=module', '-e', `
    import { SharedMemory } from 'shmsync';
    import shmsync from 'shmsync';
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    ${use(esmName)}
    const sameAsCjs = shmsync === require('shmsync') && SharedMemory === require('shmsync').SharedMemory;
    console.log(JSON.stringify({ text, unlinked, sameAsCjs, addons: [...new Set(${loadedAddons})] }));`], project, bareEnv);
  const expected = path.join(fs.realpathSync(installed), prebuilt[0]);
  for (const [kind, r] of [['CommonJS', cjs], ['ESM', esm]] as const) {
    t.same({ code: r.code, signal: r.signal, stderr: r.stderr }, { code: 0, signal: null, stderr: '' }, `${kind}: child exits cleanly`);
    if (r.code !== 0) continue;
    const out = JSON.parse(r.stdout) as { text: string; unlinked: boolean; addons: string[]; sameAsCjs?: boolean };
    t.equal(out.text, 'ok', `${kind}: the segment works`);
    t.equal(out.unlinked, true, `${kind}: and was unlinked`);
    t.same(out.addons, [expected], `${kind}: the process mapped the prebuild and nothing else`);
    if (kind === 'ESM') t.equal(out.sameAsCjs, true, 'ESM: import and require share one module instance');
  }
});
