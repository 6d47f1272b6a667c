// pcall running real children: results in call order, target kinds, large results, handles,
// options reaching the child, lifecycle properties. Error paths are in 32-pcall-errors.ts.
import t from 'tap';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Pcall, pcall, SharedMemory } from '../dist';

const fixtures = path.join(__dirname, 'fixtures');
// tap preloads its process tracker through NODE_OPTIONS; pcall children inherit the environment,
// and the tracker triples their start time. Coverage is off (.taprc), so leave it out.
delete process.env.NODE_OPTIONS;
const modes = ['process', 'thread'] as const;

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcall-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Target (runs in the child): call i waits until call i+1 has exited, so the calls finish in
// reverse order. Synchronised through files: call i+1 writes `<i+1>.done` from its exit hook,
// which runs after its result was sent; call i waits for that file with fs.watch (no polling).
async function finishInReverse(dir: string, i: number, n: number): Promise<{ i: number; finished: bigint }> {
  const fs = require('node:fs');
  const path = require('node:path');
  const next = path.join(dir, `${i + 1}.done`);
  if (i + 1 < n) {
    await new Promise<void>((resolve) => {
      const watcher = fs.watch(dir, () => {
        if (fs.existsSync(next)) {
          watcher.close();
          resolve();
        }
      });
      if (fs.existsSync(next)) {
        watcher.close();
        resolve();
      }
    });
  }
  process.on('exit', () => fs.writeFileSync(path.join(dir, `${i}.done`), ''));
  return { i, finished: process.hrtime.bigint() };
}

for (const mode of modes) {
  t.test(`${mode}: results come back in call order although the calls finish in reverse order`, async (t) => {
    const dir = tempDir(t);
    const n = 4;
    const results = await pcall<{ i: number; finished: bigint }>(finishInReverse, {
      cargs: [dir],
      iargs: [[0], [1], [2], [3]].map(([i]) => [i, n]),
      mode,
    });
    t.same(
      results.map((r) => r.i),
      [0, 1, 2, 3],
      'results are in call order',
    );
    for (let i = 0; i + 1 < n; i += 1) {
      t.ok(results[i].finished > results[i + 1].finished, `call ${i} finished after call ${i + 1}`);
    }
  });
}

t.test('function, arrow, async, method and generator-free targets all ship as source', async (t) => {
  const obj = {
    method(a: number) {
      return a + 1;
    },
    async asyncMethod(a: number) {
      return a + 2;
    },
  };
  async function asyncFn(a: number): Promise<number> {
    return a + 3;
  }
  const results = await pcall(
    [
      function plain(a: number) {
        return a + 0;
      },
      (a: number) => a + 10,
      async (a: number) => a + 20,
      obj.method,
      obj.asyncMethod,
      asyncFn,
    ],
    { iargs: [[1], [1], [1], [1], [1], [1]] },
  );
  t.same(results, [1, 11, 21, 2, 3, 4]);
});

t.test('a function target can require() modules inside its body', async (t) => {
  const [joined] = await pcall((a: string, b: string) => require('node:path').posix.join(a, b), {
    iargs: [['a', 'b']],
  });
  t.equal(joined, 'a/b');
});

t.test('module-reference targets are required in the child, closures and all', async (t) => {
  const targets = path.join(fixtures, 'pcall-targets.js');
  t.same(
    await pcall(
      { module: targets, export: 'add' },
      {
        iargs: [
          [1, 2],
          [3, 4],
        ],
      },
    ),
    [3, 7],
  );
  t.same(
    await pcall({ module: targets, export: 'addBase' }, { iargs: [[1]] }),
    [101],
    'the module-level constant is there',
  );
  t.same(
    await pcall({ module: path.join(fixtures, 'pcall-default-target.js') }, { iargs: [[21]] }),
    [42],
    'module.exports itself',
  );
  const rel = path.relative(process.cwd(), targets);
  t.same(
    await pcall({ module: `./${rel}`, export: 'add' }, { iargs: [[1, 1]] }),
    [2],
    'a relative path is resolved from the cwd',
  );
  const url = new URL(`file://${targets}`);
  t.same(await pcall({ module: url, export: 'add' }, { iargs: [[2, 2]] }), [4], 'a file URL');
  const esm = 'data:text/javascript,export default (x) => x * 3; export const neg = (x) => -x;';
  t.same(
    await pcall([{ module: esm }, { module: esm, export: 'neg' }], { iargs: [[5], [5]] }),
    [15, -5],
    'an ES module by import()',
  );
});

t.test('a list of different targets runs each on its own arguments', async (t) => {
  const targets = path.join(fixtures, 'pcall-targets.js');
  const results = await pcall([{ module: targets, export: 'add' }, (a: number, b: number) => a * b], {
    iargs: [
      [2, 3],
      [2, 3],
    ],
  });
  t.same(results, [5, 6]);
});

for (const mode of modes) {
  t.test(`${mode}: a 20 MiB result comes back intact`, async (t) => {
    const size = 20 * 1024 * 1024;
    const makeBig = (n: number, seed: number) => {
      const buf = Buffer.alloc(n);
      for (let i = 0; i < n; i += 4096) buf.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
      return buf;
    };
    const [a, b] = await pcall<Uint8Array>(makeBig, { cargs: [size], iargs: [[1], [2]], mode });
    const sha = (u: Uint8Array) => crypto.createHash('sha256').update(u).digest('hex');
    t.equal(a.byteLength, size);
    t.equal(sha(a), sha(makeBig(size, 1)), 'first result intact');
    t.equal(sha(b), sha(makeBig(size, 2)), 'second result intact');
    const [text] = await pcall((n: number) => 'y'.repeat(n), { iargs: [[size]], mode });
    t.equal((text as string).length, size, 'a 20 MiB string too');
  });
}

t.test('handles in arguments are reopened in the child', async (t) => {
  const shm = new SharedMemory(undefined, { size: 16 });
  t.teardown(() => {
    shm.close();
    shm.unlink();
  });
  const ok = await pcall(
    (mem: SharedMemory, i: number) => {
      mem.buffer[i] = 10 + i;
      return mem.size;
    },
    { cargs: [shm], iargs: [[0], [1]] },
  );
  t.same(ok, [16, 16]);
  t.same([shm.buffer[0], shm.buffer[1]], [10, 11], "the parent sees the children's writes");
  const nested = await pcall(
    (box: { inner: SharedMemory[] }) => {
      box.inner[0].buffer[2] = 99;
      return box.inner.length;
    },
    { iargs: [[{ inner: [shm] }]], mode: 'thread' },
  );
  t.same(nested, [1]);
  t.equal(shm.buffer[2], 99, 'a handle nested in plain objects is reopened (thread mode)');
});

t.test('env, cwd and execArgv reach the child process', async (t) => {
  const dir = fs.realpathSync(tempDir(t));
  const [seen] = await pcall(() => [process.env.PCALL_PROBE, process.cwd(), process.execArgv], {
    iargs: [[]],
    env: { ...process.env, PCALL_PROBE: 'yes' },
    cwd: dir,
    execArgv: ['--no-warnings'],
  });
  t.same(seen, ['yes', dir, ['--no-warnings']]);
  const [defaults] = await pcall(() => process.execArgv, { iargs: [[]] });
  t.same(defaults, [], "children do not inherit the parent's Node flags by default");
  const [threadEnv] = await pcall(() => process.env.PCALL_PROBE, {
    iargs: [[]],
    mode: 'thread',
    env: { PCALL_PROBE: 'thread' },
  });
  t.equal(threadEnv, 'thread');
});

t.test('lifecycle: start() starts, pids/livings/results follow, join() is idempotent', async (t) => {
  const p = new Pcall((x: number) => x * 2, { iargs: [[1], [2], [3]] });
  t.same(p.pids, [], 'no pid before start');
  t.equal(p.start(), p, 'start() returns the Pcall');
  t.equal(p.pids.length, 3, 'three children');
  t.ok(
    p.pids.every((pid) => pid !== process.pid),
    'they are other processes',
  );
  t.equal(p.results, undefined, 'no results before join');
  const joined = p.join();
  t.equal(p.join(), joined, 'join() returns the same promise');
  t.same(await joined, [2, 4, 6]);
  t.same(p.results, [2, 4, 6]);
  t.same(p.livings, [], 'no living child after join');
  t.equal(p.start(), p, 'start() again does nothing');
});

t.test('thread mode: pids are worker thread ids and results are the same', async (t) => {
  const p = new Pcall(() => require('node:worker_threads').threadId, { iargs: [[], []], mode: 'thread' }).start();
  const ids = await p.join();
  t.same(ids, p.pids, 'each result is the threadId that pids reported');
  t.ok(ids.every((id) => typeof id === 'number' && id > 0));
});

t.test('Pcall.pcall is pcall', async (t) => {
  t.same(await Pcall.pcall((a: number) => -a, { iargs: [[1]] }), [-1]);
  t.same(
    await pcall(({ x, y }: { x: number; y: number }) => x + y, { x: [1, 2, 3], y: [4, 5, 6] }),
    [5, 7, 9],
    "the seed's add example",
  );
});
