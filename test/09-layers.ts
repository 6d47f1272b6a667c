import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';

// The folders of src/ are the layers (docs/concepts/architecture.md): every relative import must
// point to the same folder or to a lower layer, and no module may import itself back (no cycle).
const src = path.join(__dirname, '..', 'src');
const kRank: Record<string, number> = {
  '.': 0, // errors.ts, validate.ts, diagnostics.ts: the base every layer may use
  addon: 1, // the one addon loader and its thin helpers (status, names, parker client)
  wire: 2, // codecs and handle references
  'shared-memory': 3,
  lock: 4,
  rwlock: 4.3, // RwLock: its own engine over the lock layer's scopes and owner id
  'web-locks': 4.6, // LockManager (Web Locks API) over RwLock
  queue: 5,
  shared: 6, // SharedValue/SharedArray composed over SharedMemory + Mutex
  lockable: 7,
  'async-util': 5.5, // async seed utilities: AsyncQueue, SyncQueue, HSCondition, DummyLock, ReadOnly, cpuCount
  pcall: 8,
  thread: 8.1, // WorkerThread / TerminatableThread (async seed), over pcall's function transport
  channel: 8.2, // mkchannel, Channel, SerialChannel, readers/writers; shared channels over ShmQueue
  pool: 8.4, // Graph, Task, Pool/ThreadPool over channels, threads and pcall
  actor: 8.6, // Actor / Relay / Handler (ktz seed) over ShmQueue and pcall's child machinery
  redis: 8.8, // the Redis backend: leased locks, Streams queue, behind the lock/queue interfaces
  cli: 9,
  index: 10,
};

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}
function layerOf(file: string): string {
  const rel = path.relative(src, file);
  if (rel === 'index.ts') return 'index';
  const dir = path.dirname(rel).split(path.sep)[0];
  return dir;
}
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  // Relative specifiers, including the bare '.' and '..' (a folder's index.ts).
  for (const m of text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)'(\.{1,2}(?:\/[^']*)?)'/g)) {
    const base = path.resolve(path.dirname(file), m[1]);
    const target = [`${base}.ts`, path.join(base, 'index.ts')].find((p) => fs.existsSync(p));
    if (target !== undefined) out.push(target);
  }
  return out;
}

const all = files(src);
const graph = new Map(all.map((f) => [f, importsOf(f)]));

t.test('every src folder has a rank', async (t) => {
  for (const f of all) t.ok(layerOf(f) in kRank, `${path.relative(src, f)} is in a known layer`);
});

t.test('imports point down (or stay in their folder)', async (t) => {
  const up: string[] = [];
  for (const [f, deps] of graph) {
    for (const d of deps) {
      const from = layerOf(f);
      const to = layerOf(d);
      if (from === to) continue;
      if (!(kRank[to] < kRank[from])) up.push(`${path.relative(src, f)} -> ${path.relative(src, d)}`);
    }
  }
  t.same(up, [], 'no import points up or sideways');
});

t.test('no import cycle between modules', async (t) => {
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]): void => {
    state.set(f, 1);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === 1)
        cycles.push([...stack.slice(stack.indexOf(d)), d].map((p) => path.relative(src, p)).join(' -> '));
      else if (!state.has(d)) visit(d, [...stack, d]);
    }
    state.set(f, 2);
  };
  for (const f of all) if (!state.has(f)) visit(f, [f]);
  t.same(cycles, [], 'the module graph is acyclic');
});

t.test('the checker catches an upward import (control)', async (t) => {
  const fake = new Map([[path.join(src, 'addon', 'x.ts'), [path.join(src, 'lock', 'mutex.ts')]]]);
  for (const [f, deps] of fake)
    for (const d of deps) t.notOk(kRank[layerOf(d)] < kRank[layerOf(f)], 'addon -> lock is flagged');
});

t.test('src/pcall never imports src/index (the package entry), not even through a bare ..', async (t) => {
  const pcallDir = path.join(src, 'pcall');
  const index = path.join(src, 'index.ts');
  const offenders = [...graph]
    .filter(([f, deps]) => f.startsWith(pcallDir + path.sep) && deps.includes(index))
    .map(([f]) => path.relative(src, f));
  t.same(offenders, [], 'no pcall module imports ../index');
  // Control: the scanner sees such imports, written either way.
  const tmp = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'layers-'));
  t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  fs.mkdirSync(path.join(tmp, 'pcall'));
  fs.writeFileSync(path.join(tmp, 'index.ts'), '');
  for (const line of ["import { pcall } from '..';", "const x = require('../index');"]) {
    const probe = path.join(tmp, 'pcall', 'probe.ts');
    fs.writeFileSync(probe, line);
    t.same(importsOf(probe), [path.join(tmp, 'index.ts')], `the scanner sees: ${line}`);
  }
});
