'use strict';
// Issue 15 perf probe: the Redis Mutex's uncontended acquire+release cycle against redlock and
// redis-semaphore, interleaved in one run on one local redis-server this script starts (no
// persistence), plus the commands each cycle sends (INFO commandstats deltas).
// Usage: node benchmarks/redis-lock-rtt.js [cycles per round=2000] [rounds=5] [another dist/ to compare]
// (e.g. an older build copied to dist.old-before/: both run in the same process and rounds)
const { spawn } = require('node:child_process');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const Redis = require(require.resolve('ioredis', { paths: [root] }));
const bm = (id) => require(require.resolve(id, { paths: [__dirname] }));

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function startServer() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlock-bench-'));
  const p = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve) => {
    let buf = '';
    p.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('Ready to accept')) resolve();
    });
  });
  return {
    port,
    stop: () => {
      p.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function commandstats(c) {
  const text = await c.info('commandstats');
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) {
      out[m[1]] = Number(m[2]);
      out['usec'] = (out['usec'] ?? 0) + (m[1] === 'evalsha' || m[1] === 'set' || m[1] === 'eval' ? Number(m[3]) : 0);
    }
  }
  return out;
}

async function main() {
  const cycles = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 5);
  const server = await startServer();
  const mk = async () => {
    const c = new Redis({ host: '127.0.0.1', port: server.port });
    await c.ping();
    return c;
  };
  const admin = await mk();
  const { createRedisBackend, Mutex } = require(path.join(root, 'dist', 'index.js'));
  const Redlock = bm('redlock').default ?? bm('redlock');
  const { Mutex: SemMutex } = bm('redis-semaphore');

  const cS = await mk();
  const backend = createRedisBackend({ client: cS });
  const m = new Mutex(`bench:m:${process.pid}`, { backend });
  const cR = await mk();
  const redlock = new Redlock([cR], { retryCount: 0 });
  redlock.on('error', () => {});
  const cM = await mk();
  const competitors = {
    'shmsync Redis Mutex (await acquire()).release()': async () => {
      const g = await m.acquire();
      g.release();
    },
    'shmsync Redis Mutex withLock(noop)': () => m.withLock(() => undefined),
    'redlock acquire+release': async () => {
      const l = await redlock.acquire([`bench:rl:${process.pid}`], 5000);
      await l.release();
    },
    'redis-semaphore Mutex acquire+release': async () => {
      const s = new SemMutex(cM, `bench:sem:${process.pid}`, { lockTimeout: 5000, acquireTimeout: 5000 });
      await s.acquire();
      await s.release();
    },
  };
  const other = process.argv[4];
  let mOther = null;
  let bOther = null;
  let cOther = null;
  if (other !== undefined) {
    const mod = require(path.resolve(other, 'index.js'));
    cOther = await mk();
    bOther = mod.createRedisBackend({ client: cOther });
    mOther = new mod.Mutex(`bench:m2:${process.pid}`, { backend: bOther });
    competitors[`same, from ${other}`] = async () => {
      const g = await mOther.acquire();
      g.release();
    };
  }
  const results = Object.fromEntries(Object.keys(competitors).map((k) => [k, []]));
  const cmds = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(competitors)) {
      for (let i = 0; i < 200; i++) await fn(); // warm
      const before = await commandstats(admin);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < cycles; i++) await fn();
      const ns = Number(process.hrtime.bigint() - t0);
      const after = await commandstats(admin);
      results[name].push(ns / cycles / 1000);
      const d = {};
      for (const [k, v] of Object.entries(after)) {
        const delta = v - (before[k] ?? 0) - (k === 'info' ? 1 : 0);
        if (delta > 0) d[k === 'usec' ? 'server µs (evalsha+set)' : k] = +(delta / cycles).toFixed(2);
      }
      cmds[name] = d;
    }
  }
  // settle the shmsync release before measuring the next (released lock)
  const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(
    `node ${process.version}, ${os.cpus().length} cpus ${os.cpus()[0].model}, load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(`${rounds} rounds x ${cycles} cycles, interleaved; median µs/cycle (min..max) ; commands per cycle`);
  const sem = med(results['redis-semaphore Mutex acquire+release']);
  for (const [name, a] of Object.entries(results)) {
    console.log(
      `${name.padEnd(50)} ${med(a).toFixed(1).padStart(7)} µs (${Math.min(...a).toFixed(0)}..${Math.max(...a).toFixed(0)})  x${(med(a) / sem).toFixed(2)} vs sem  ${JSON.stringify(cmds[name])}`,
    );
  }
  m.close();
  backend.close();
  mOther?.close();
  bOther?.close();
  cOther?.disconnect();
  for (const c of [admin, cS, cR, cM]) c.disconnect();
  server.stop();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
