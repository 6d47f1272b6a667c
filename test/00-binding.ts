import t from 'tap';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as shmsync from '../dist';
import { binding } from '../dist/addon/binding';

const dist = path.join(__dirname, '..', 'dist');

/** Runs `node` with args; returns its outcome (never throws). */
function runNode(args: string[], cwd = process.cwd()) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

t.test('the addon loads and exposes its functions', async (t) => {
  t.type(binding.noop, 'function');
  t.equal(binding.noop(), undefined, 'noop returns undefined');
  t.type(binding.Region, 'function');
  t.type(binding.Region.unlink, 'function');
  t.type(binding.init, 'function');
  t.type(binding.waitStats, 'function');
  t.equal(
    binding.Region.unlink('shmsync-test-00-never-created-' + process.pid),
    false,
    'a native call that reaches the OS works',
  );
});

t.test('the addon loads in a worker thread as well (context-aware)', async (t) => {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { binding } = require(${JSON.stringify(path.join(dist, 'addon', 'binding.js'))});
     parentPort.postMessage({ noop: typeof binding.noop, result: binding.noop() === undefined });`,
    { eval: true },
  );
  const [message] = await Promise.all([
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    new Promise<number>((resolve) => worker.once('exit', resolve)).then((code) => t.equal(code, 0, 'worker exit code')),
  ]);
  t.same(message, { noop: 'function', result: true });
});

t.test('the ESM entry exports the same names and the same objects as CommonJS', async (t) => {
  const esmUrl = pathToFileURL(path.join(dist, 'esm', 'index.mjs')).href;
  const cjsPath = path.join(dist, 'index.js');
  const script = `
    import * as esm from ${JSON.stringify(esmUrl)};
    import { createRequire } from 'node:module';
    const cjs = createRequire(import.meta.url)(${JSON.stringify(cjsPath)});
    const names = Object.keys(esm).filter((n) => n !== 'default').sort();
    const same = names.every((n) => esm[n] === cjs[n]);
    console.log(JSON.stringify({ names, same, defaultIsCjs: esm.default === cjs }));`;
  const r = runNode(['--input-type=module', '-e', script]);
  t.same({ code: r.code, signal: r.signal, stderr: r.stderr }, { code: 0, signal: null, stderr: '' });
  const out = JSON.parse(r.stdout) as { names: string[]; same: boolean; defaultIsCjs: boolean };
  const cjsNames = Object.keys(shmsync)
    .filter((n) => n !== '__esModule' && n !== 'default')
    .sort();
  t.ok(cjsNames.includes('SharedMemory') && cjsNames.includes('ShmsyncError'), 'sanity: CJS has the API');
  t.same(out.names, cjsNames, 'ESM names === CJS names');
  t.equal(out.same, true, 'ESM bindings are the very CJS objects (one module instance)');
  t.equal(out.defaultIsCjs, true, 'default export is the CJS module');
});

t.test('without a native build, loading fails with one error listing attempts and solutions', async (t) => {
  // A copy of dist/ in a package root that has node-gyp-build but no build/ and no prebuilds/.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-nobuild-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.cpSync(dist, path.join(root, 'dist'), { recursive: true });
  fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'shmsync', version: '0.0.0' }));
  fs.mkdirSync(path.join(root, 'node_modules'));
  fs.symlinkSync(
    path.dirname(require.resolve('node-gyp-build/package.json')),
    path.join(root, 'node_modules', 'node-gyp-build'),
  );
  const r = runNode(['-e', `require(${JSON.stringify(path.join(root, 'dist', 'index.js'))})`], root);
  t.equal(r.code, 1, 'exit code');
  t.equal(r.signal, null, 'no signal');
  t.match(
    r.stderr,
    /shmsync: could not load the native addon\.\n {2}- node-gyp-build\(.*\): No native build was found/,
  );
  t.match(r.stderr, /Possible solutions:\n {2}- install from npm on linux-x64/);
  t.match(r.stderr, `this is ${process.platform}-${process.arch}.`);
});
