// The npm tarball, built the way a release builds it, installs and loads its prebuild on a
// machine without a compiler.
//
// Release path: a fresh clone of this repository's HEAD (nothing built, nothing ignored by git
// carried over), `npm ci`, `npm run prebuild`, `npm pack` (whose prepack hook builds dist/).
// The tarball passes publint, then installs into an empty project with only node and sh on
// PATH and loads from CommonJS and ESM. A control tarball without the prebuild must fail to
// install there (so the PATH really has no compiler). Only committed changes are tested.
//
// CI builds the tarball once and loads it on every Node version: SHMSYNC_PACK_OUT=<dir> keeps
// the tarball built here; SHMSYNC_PACK_TARBALL=<file> skips the build and installs that one.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SharedMemory } from '../dist';
import { testName } from './helpers/shm';

if (process.env.SHMSYNC_SKIP_PACK === '1') {
  t.plan(0, 'SHMSYNC_SKIP_PACK=1: skipping the clone + prebuild + npm pack + offline install test');
  process.exit(0);
}
// npm ci and two native builds on a shared 2-core machine: more than the suite's default.
t.setTimeout(900_000);

const root = path.join(__dirname, '..');
const npmCli = [
  process.env.npm_execpath,
  path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  '/usr/lib/node_modules/npm/bin/npm-cli.js',
  '/usr/local/lib/node_modules/npm/bin/npm-cli.js',
].find((p) => p !== undefined && p.endsWith('npm-cli.js') && fs.existsSync(p));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Run {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 26 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}
const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Run =>
  run(process.execPath, [npmCli!, ...args], cwd, env);
const ok = (r: Run): { code: number | null; signal: NodeJS.Signals | null } => ({ code: r.code, signal: r.signal });
const tail = (r: Run): string => `${r.stdout}\n${r.stderr}`.split('\n').slice(-40).join('\n');

/** `npm pack --json` in `dir`, tarball written to `dest`; returns its path and file list. */
function pack(dir: string, dest: string, extra: string[] = []): { run: Run; tarball: string; files: string[] } {
  const r = npm(['pack', '--json', '--prefer-offline', '--pack-destination', dest, ...extra], dir);
  if (r.code !== 0) throw new Error(`npm pack failed in ${dir}:\n${tail(r)}`);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return { run: r, tarball: path.join(dest, info.filename), files: info.files.map((f) => f.path) };
}

const tmpDirs: string[] = [];
function tmpDir(tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shmsync-${tag}-`));
  tmpDirs.push(dir);
  return dir;
}
t.teardown(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

const timings: string[] = [];

/** Steps 1-6: the release tarball and a control tarball without the prebuild. */
async function buildTarballs(t: Test): Promise<{ tarball: string; control: string } | undefined> {
  // 1. A fresh clone of HEAD: only what is committed.
  const head = run('git', ['rev-parse', 'HEAD'], root);
  t.equal(head.code, 0, 'the package root is a git checkout');
  if (head.code !== 0) return undefined;
  const sha = head.stdout.trim();
  if (run('git', ['status', '--porcelain', '--untracked-files=no'], root).stdout.trim() !== '') {
    t.comment(`uncommitted changes are not in this tarball: it is built from HEAD ${sha.slice(0, 12)}`);
  }
  const clone = path.join(tmpDir('clone'), 'shmsync');
  const cloned = run('git', ['clone', '--quiet', '--no-checkout', '--no-hardlinks', root, clone], root);
  const checkout = cloned.code === 0 ? run('git', ['checkout', '--quiet', '--detach', sha], clone) : cloned;
  t.same(ok(checkout), { code: 0, signal: null }, `git clone + checkout ${sha.slice(0, 12)}`);
  if (checkout.code !== 0) return void t.comment(tail(checkout));
  t.notOk(
    fs.existsSync(path.join(clone, 'dist')) || fs.existsSync(path.join(clone, 'prebuilds')),
    'the clone has no dist/ and no prebuilds/',
  );

  // 2. npm ci (no install scripts: the prebuild below is the build that ships).
  const ci = npm(['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], clone);
  timings.push(`npm ci ${ci.ms} ms`);
  t.same(ok(ci), { code: 0, signal: null }, 'npm ci succeeds');
  if (ci.code !== 0) return void t.comment(tail(ci));

  // 3. npm run prebuild.
  const prebuild = npm(['run', 'prebuild'], clone, { ...process.env, JOBS: 'max' }); // node-gyp: make -j
  timings.push(`prebuild ${prebuild.ms} ms`);
  t.same(ok(prebuild), { code: 0, signal: null }, 'npm run prebuild succeeds');
  if (prebuild.code !== 0) return void t.comment(tail(prebuild));

  // 4. npm pack: prepack builds dist/ and keeps the prebuild (built from the same sources).
  const real = pack(clone, tmpDir('pack'));
  timings.push(`npm pack ${real.run.ms} ms`);
  t.match(real.run.stderr, /prepack: the prebuild matches the native sources/, 'prepack kept the fresh prebuild');
  const { tarball, files } = real;
  const prebuilt = files.filter((f) => /^prebuilds\/linux-x64\/[^/]+\.node$/.test(f));
  t.equal(prebuilt.length, 1, `one linux-x64 prebuild in the tarball (${prebuilt.join(', ')})`);
  for (const must of [
    'package.json',
    'binding.gyp',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/esm/index.mjs',
    'dist/esm/index.d.mts',
    'native/core/shm-region.cc',
    'native/addon/addon.cc',
  ]) {
    t.ok(files.includes(must), `tarball has ${must}`);
  }
  t.same(
    files.filter((f) => /^(build|src|test|native\/test|benchmarks|examples|scripts)\//.test(f)),
    [],
    'no build output, sources, tests, scripts or benchmarks in the tarball',
  );

  // 5. publint: exports, types and files agree (strict: warnings fail too).
  const lint = run(process.execPath, [path.join(root, 'scripts', 'publint-tarball.mjs'), tarball], root);
  t.same(ok(lint), { code: 0, signal: null }, `publint passes:\n${lint.stdout.trim()}`);

  // 6. A control tarball without the prebuild (packed with no scripts).
  fs.renameSync(path.join(clone, 'prebuilds'), path.join(clone, 'prebuilds.off'));
  const control = pack(clone, tmpDir('control-pack'), ['--ignore-scripts']);
  t.ok(
    control.files.includes('dist/index.js') && !control.files.some((f) => f.startsWith('prebuilds/')),
    'control tarball: dist/ but no prebuild',
  );
  if (process.env.SHMSYNC_PACK_OUT) {
    fs.mkdirSync(process.env.SHMSYNC_PACK_OUT, { recursive: true });
    fs.copyFileSync(tarball, path.join(process.env.SHMSYNC_PACK_OUT, path.basename(tarball)));
  }
  return { tarball, control: control.tarball };
}

/** Steps 7-8: install with no compiler on PATH, load from CommonJS and ESM. */
async function installAndLoad(t: Test, tarball: string, control: string | undefined): Promise<void> {
  // 7. A PATH with node and a shell only: no compiler, no make, no python.
  const bin = tmpDir('bin');
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const bareEnv = { HOME: os.homedir(), PATH: bin, LANG: 'C' };
  const install = (tgz: string): { project: string; result: Run } => {
    const project = tmpDir('consumer');
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    const result = npm(
      ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts=false', '--foreground-scripts'],
      project,
      bareEnv,
    );
    return { project, result };
  };

  if (control !== undefined) {
    const failed = install(control).result;
    t.not(failed.code, 0, 'control: without a prebuild the install must compile, and cannot here');
    t.match(failed.stdout + failed.stderr, /gyp|python|make|g\+\+/i, 'control: it failed trying to build');
  }

  const { project, result } = install(tarball);
  timings.push(`install ${result.ms} ms`);
  t.same(ok(result), { code: 0, signal: null }, 'npm install succeeds offline, no compiler');
  if (result.code !== 0) return void t.comment(tail(result));
  const installed = path.join(project, 'node_modules', 'shmsync');
  t.notOk(fs.existsSync(path.join(installed, 'build')), 'nothing was compiled (no build/ in the installed package)');
  const prebuilt = fs
    .readdirSync(path.join(installed, 'prebuilds', 'linux-x64'))
    .filter((f) => f.endsWith('.node'))
    .map((f) => `prebuilds/linux-x64/${f}`);
  t.equal(prebuilt.length, 1, `the prebuild is installed (${prebuilt.join(', ')})`);

  // 8. Load it from CommonJS and from ESM; create, use and unlink a segment; report the addon
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
  t.teardown(() => {
    SharedMemory.unlink(cjsName);
    SharedMemory.unlink(esmName);
  });
  const cjs = run(
    process.execPath,
    [
      '-e',
      `
    const { SharedMemory } = require('shmsync');
    ${use(cjsName)}
    console.log(JSON.stringify({ text, unlinked, addons: [...new Set(${loadedAddons})] }));`,
    ],
    project,
    bareEnv,
  );
  const esm = run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    import { SharedMemory } from 'shmsync';
    import shmsync from 'shmsync';
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    ${use(esmName)}
    const sameAsCjs = shmsync === require('shmsync') && SharedMemory === require('shmsync').SharedMemory;
    console.log(JSON.stringify({ text, unlinked, sameAsCjs, addons: [...new Set(${loadedAddons})] }));`,
    ],
    project,
    bareEnv,
  );
  const expected = path.join(fs.realpathSync(installed), prebuilt[0]);
  for (const [kind, r] of [
    ['CommonJS', cjs],
    ['ESM', esm],
  ] as const) {
    t.same({ ...ok(r), stderr: r.stderr }, { code: 0, signal: null, stderr: '' }, `${kind}: child exits cleanly`);
    if (r.code !== 0) continue;
    const out = JSON.parse(r.stdout) as { text: string; unlinked: boolean; addons: string[]; sameAsCjs?: boolean };
    t.equal(out.text, 'ok', `${kind}: the segment works`);
    t.equal(out.unlinked, true, `${kind}: and was unlinked`);
    t.same(out.addons, [expected], `${kind}: the process mapped the prebuild and nothing else`);
    if (kind === 'ESM') t.equal(out.sameAsCjs, true, 'ESM: import and require share one module instance');
  }
}

t.test(
  `the release tarball carries dist/ and a prebuild that loads without a compiler (Node ${process.version})`,
  async (t) => {
    if (npmCli === undefined) throw new Error('cannot find npm-cli.js next to this node binary');
    const given = process.env.SHMSYNC_PACK_TARBALL;
    const built = given ? { tarball: path.resolve(given), control: undefined } : await buildTarballs(t);
    if (built === undefined) return;
    if (given) t.comment(`installing the given tarball ${given}`);
    await installAndLoad(t, built.tarball, built.control);
    t.comment(`timings: ${timings.join(', ')}`);
  },
);
