'use strict';
// Issue 15: the Redis backend against the Redis libraries users pick today, on one local
// redis-server this group process starts (peers/redis-server.js), plus the shm backend for scale.
//   redis-lock:  lock round trip (acquire + release, nobody else wants the lock)
//   redis-queue: messages per second, one producer -> one consumer (both in this process)
// Every row talks to the same server over 127.0.0.1 with ioredis; small objects (JSON) as messages.
const path = require('node:path');
const { defineGroup } = require('../lib/group');
const { asyncOp, requirePeer, peerInstalled } = require('../lib/competitor');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName } = require('../lib/shm-names');
const { redisServer, redisServerAvailable } = require('../peers/redis-server');

const dist = path.join(__dirname, '..', '..', 'dist');
const kBatch = 256;
const kGiveUpMs = 20_000;
let keySeq = 0;
const key = (tag) => `bench:${tag}:${process.pid}:${keySeq++}`;

function ioredis() {
  return require('ioredis');
}

/** A new ioredis client on the group's server; closed at teardown by the caller. */
async function client(ctx, options = {}) {
  const { port } = await redisServer(ctx);
  const Redis = ioredis();
  const c = new Redis({ host: '127.0.0.1', port, ...options });
  await c.ping();
  return c;
}

// ---- shmsync's Redis pieces (from dist; skipped with the reason when this build lacks them) ----

function redisQueueModule() {
  return require(path.join(dist, 'redis', 'queue.js'));
}
function backendModule() {
  const index = require(path.join(dist, 'index.js'));
  if (typeof index.createRedisBackend === 'function') return index;
  return require(path.join(dist, 'redis', 'backend.js'));
}
function hasRedisQueue() {
  const ok = redisServerAvailable();
  if (ok !== true) return ok;
  try {
    redisQueueModule();
    return true;
  } catch (err) {
    return `the Redis queue is not in this build (${err.message.split('\n')[0]})`;
  }
}
function hasBackend() {
  const ok = redisServerAvailable();
  if (ok !== true) return ok;
  try {
    return typeof backendModule().createRedisBackend === 'function' ? true : 'createRedisBackend is not in this build';
  } catch (err) {
    return `createRedisBackend is not in this build (${err.message.split('\n')[0]})`;
  }
}
function peerWithServer(id) {
  return () => {
    const ok = redisServerAvailable();
    return ok === true ? peerInstalled(id) : ok;
  };
}

// ---- lock round trip ----

const kRedisMutex = 'Redis Mutex (await acquire()).release() [shmsync backend]';
const kShmMutex = 'shm Mutex (await acquire()).release() [for scale]';

/** INFO commandstats as { command: calls }, and the server's CPU time so far (µs, INFO cpu). */
async function commandstats(admin) {
  const out = { calls: {}, cpuUs: 0 };
  for (const line of (await admin.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out.calls[m[1]] = Number(m[2]);
  }
  for (const line of (await admin.info('cpu')).split('\n')) {
    const m = /^used_cpu_(sys|user):([\d.]+)/.exec(line);
    if (m) out.cpuUs += Number(m[2]) * 1e6;
  }
  return out;
}

/**
 * Wraps a cycle so each sample also reports what the server did for it (INFO commandstats
 * before and after, from a connection of its own; samples of the group run one at a time):
 * extra.commands (all commands per cycle, scripts and the commands inside them),
 * extra.scripts (EVALSHA/EVAL per cycle), extra.serverCpuUs (the redis-server process's CPU
 * time per cycle, user + sys: parsing, scripts, replies; the group's server serves nobody else)
 * and extra['cmd:<name>'] per command. The INFO round trips are inside the timed sample: under
 * 1 µs per cycle at the sample sizes calibrate() picks, and they add a little server CPU.
 */
function counted(ctx, cycle) {
  const loop = asyncOp(cycle);
  let admin = null;
  const run = async (n) => {
    admin ??= await client(ctx);
    const before = await commandstats(admin);
    await loop(n);
    const after = await commandstats(admin);
    const extra = { commands: 0, scripts: 0, serverCpuUs: (after.cpuUs - before.cpuUs) / n };
    for (const [cmd, v] of Object.entries(after.calls)) {
      const calls = v - (before.calls[cmd] ?? 0);
      if (calls <= 0 || cmd === 'info') continue;
      extra[`cmd:${cmd}`] = calls / n;
      extra.commands += calls / n;
      if (cmd === 'evalsha' || cmd === 'eval') extra.scripts += calls / n;
    }
    return { extra };
  };
  return { run, close: () => admin?.disconnect() };
}

/** A peer's competitor: `cycle` on its client `c`, counted; the teardown disconnects both clients. */
function peerCycle(ctx, c, cycle) {
  const counter = counted(ctx, cycle);
  return {
    run: counter.run,
    teardown: () => {
      counter.close();
      c.disconnect();
    },
  };
}

/** "10 Redis commands per cycle, 2 of them scripts (evalsha 2, set 2, ...); redis-server CPU 21.3 µs per cycle" */
function commandDetail(r) {
  const x = r.extra;
  if (!x) return '';
  const per = Object.keys(x)
    .filter((k) => k.startsWith('cmd:'))
    .map((k) => [k.slice(4), x[k].median])
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${+v.toFixed(2)}`)
    .join(', ');
  return `${+x.commands.median.toFixed(2)} Redis commands per cycle, ${+x.scripts.median.toFixed(2)} of them scripts (${per}); redis-server CPU ${x.serverCpuUs.median.toFixed(1)} µs per cycle (INFO commandstats and cpu, median of samples)`;
}

function redisMutexSetup(distDir = dist, body = 'acquire') {
  return async (ctx) => {
    const c = await client(ctx);
    const index = require(path.join(distDir, 'index.js'));
    const { createRedisBackend, Mutex } = distDir === dist ? { ...index, ...backendModule() } : index;
    const backend = createRedisBackend({ client: c });
    const m = new Mutex(key('mutex'), { backend });
    const cycle =
      body === 'withLock'
        ? () => m.withLock(() => undefined)
        : async () => {
            const g = await m.acquire();
            await g.release();
          };
    const counter = counted(ctx, cycle);
    return {
      run: counter.run,
      async teardown() {
        counter.close();
        await m.close?.();
        await backend.close?.();
        c.disconnect();
      },
    };
  };
}

/**
 * SHMSYNC_BENCH_REDIS_BASELINE=<another dist/> (e.g. an older build copied to dist.old-before/)
 * adds its Redis Mutex as one more row, measured in the same run and rounds: before/after.
 */
function baselineRows() {
  const dir = process.env.SHMSYNC_BENCH_REDIS_BASELINE;
  if (!dir) return [];
  const abs = path.resolve(dir);
  return [
    {
      name: `Redis Mutex (await acquire()).release() [from ${path.basename(abs)}]`,
      side: 'shmsync',
      available: () => {
        const ok = redisServerAvailable();
        if (ok !== true) return ok;
        try {
          return typeof require(path.join(abs, 'index.js')).createRedisBackend === 'function'
            ? true
            : `no createRedisBackend in ${abs}`;
        } catch (err) {
          return `cannot load ${abs}: ${err.message.split('\n')[0]}`;
        }
      },
      setup: redisMutexSetup(abs),
      detail: commandDetail,
    },
  ];
}

function shmMutexSetup() {
  return () => {
    const { Mutex } = shmsync();
    const name = benchName('rlock');
    const m = new Mutex(name);
    return {
      run: asyncOp(async () => {
        (await m.acquire()).release();
      }),
      teardown() {
        m.close();
        unlinkName(name);
      },
    };
  };
}

const lockGroup = defineGroup({
  name: 'redis-lock',
  title: 'Redis lock round trip (acquire + release, uncontended), local redis-server',
  metric: 'time',
  unit: 'cycle',
  notes:
    'One ioredis connection per competitor to a local redis-server (127.0.0.1, no persistence). redlock 5 (one instance, retryCount 0, 5 s TTL), redis-semaphore Mutex (5 s lockTimeout, its refresh timer on). The shm Mutex row is the shared-memory backend on the same machine, for scale. Under each Redis row: the commands per cycle the server ran (scripts and the commands inside them) and the redis-server CPU time per cycle (INFO commandstats and cpu around every sample). SHMSYNC_BENCH_REDIS_BASELINE=<another dist/> adds that build as one more row (before/after in one run).',
  competitors: [
    { name: kRedisMutex, side: 'shmsync', available: hasBackend, setup: redisMutexSetup(), detail: commandDetail },
    {
      name: 'Redis Mutex withLock(noop) [shmsync backend]',
      side: 'shmsync',
      available: hasBackend,
      setup: redisMutexSetup(dist, 'withLock'),
      detail: commandDetail,
    },
    ...baselineRows(),
    { name: kShmMutex, side: 'shmsync', setup: shmMutexSetup() },
    {
      name: 'redlock acquire([key])+release()',
      side: 'peer',
      vs: kRedisMutex,
      available: peerWithServer('redlock'),
      detail: commandDetail,
      async setup(ctx) {
        const c = await client(ctx);
        const mod = requirePeer('redlock');
        const Redlock = mod.default ?? mod.Redlock ?? mod;
        const redlock = new Redlock([c], { retryCount: 0 });
        redlock.on('error', () => {});
        const k = key('redlock');
        return peerCycle(ctx, c, async () => {
          const lock = await redlock.acquire([k], 5000);
          await lock.release();
        });
      },
    },
    {
      name: 'redis-semaphore Mutex acquire()+release()',
      side: 'peer',
      vs: kRedisMutex,
      available: peerWithServer('redis-semaphore'),
      detail: commandDetail,
      async setup(ctx) {
        const c = await client(ctx);
        const { Mutex } = requirePeer('redis-semaphore');
        const k = key('semaphore');
        return peerCycle(ctx, c, async () => {
          const m = new Mutex(c, k, { lockTimeout: 5000, acquireTimeout: 5000 });
          await m.acquire();
          await m.release();
        });
      },
    },
  ],
});

// ---- queue throughput ----

const kRedisBatched = `RedisQueue putMany()/getMany() ×${kBatch} [shmsync backend]`;
const kRedisSingle = 'RedisQueue await put() / await get() one by one [shmsync backend]';
const kShmBatched = `ShmQueue putMany()/getMany() ×${kBatch}, same process [for scale]`;

const message = (i) => ({ id: i, kind: 'job', user: 'u123', at: 1_700_000_000_000, ok: true });

/** Runs a producer and a consumer of n messages concurrently. */
function pairRun(produce, consume) {
  return (n) => Promise.all([produce(n), consume(n)]);
}

function redisQueueSetup(batched) {
  return async (ctx) => {
    const c = await client(ctx);
    const { RedisQueue } = redisQueueModule();
    const name = key('rq');
    const producer = new RedisQueue(name, { client: c, codec: 'json' });
    const consumer = new RedisQueue(name, { client: c, codec: 'json' });
    await producer.ready();
    await consumer.ready();
    const batch = Array.from({ length: kBatch }, (_, i) => message(i));
    const produce = batched
      ? async (n) => {
          for (let i = 0; i < n; i += kBatch) await producer.putMany(i + kBatch <= n ? batch : batch.slice(0, n - i));
        }
      : async (n) => {
          for (let i = 0; i < n; i++) await producer.put(batch[i % kBatch]);
        };
    const consume = batched
      ? async (n) => {
          for (let got = 0; got < n;) got += (await consumer.getMany(kBatch, { timeout: kGiveUpMs })).length;
        }
      : async (n) => {
          for (let i = 0; i < n; i++) await consumer.get({ timeout: kGiveUpMs });
        };
    return {
      run: pairRun(produce, consume),
      async teardown() {
        await producer.close();
        await consumer.close();
        await producer.unlink();
        c.disconnect();
      },
    };
  };
}

function shmQueueSetup() {
  return () => {
    const { ShmQueue } = shmsync();
    const name = benchName('rqscale');
    const q = new ShmQueue(name, { create: 'create', codec: 'json' });
    const batch = Array.from({ length: kBatch }, (_, i) => message(i));
    return {
      run: pairRun(
        async (n) => {
          for (let i = 0; i < n; i += kBatch) await q.putMany(i + kBatch <= n ? batch : batch.slice(0, n - i));
        },
        async (n) => {
          for (let got = 0; got < n;) got += (await q.getMany(kBatch, { timeout: kGiveUpMs })).length;
        },
      ),
      teardown() {
        q.close();
        unlinkName(name);
      },
    };
  };
}

/** BullMQ: a Queue adds jobs (addBulk batches or add one by one), a Worker processes them. */
function bullSetup(batched, concurrency) {
  return async (ctx) => {
    const { port } = await redisServer(ctx);
    const { Queue, Worker } = requirePeer('bullmq');
    const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
    const name = key('bull').replace(/:/g, '-');
    const queue = new Queue(name, { connection, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
    let waiting = null;
    let done = 0;
    const worker = new Worker(name, async (job) => job.data.id, { connection, concurrency, autorun: true });
    worker.on('completed', () => {
      done += 1;
      if (waiting !== null && done >= waiting.target) {
        const w = waiting;
        waiting = null;
        w.resolve();
      }
    });
    worker.on('error', () => {});
    await worker.waitUntilReady();
    const batch = Array.from({ length: kBatch }, (_, i) => ({ name: 'job', data: message(i) }));
    return {
      async run(n) {
        const target = done + n;
        const finished = new Promise((resolve) => (waiting = { target, resolve }));
        if (batched) {
          for (let i = 0; i < n; i += kBatch) await queue.addBulk(i + kBatch <= n ? batch : batch.slice(0, n - i));
        } else {
          for (let i = 0; i < n; i++) await queue.add('job', batch[i % kBatch].data);
        }
        if (done >= target) waiting = null;
        else await finished;
      },
      async teardown() {
        await worker.close();
        await queue.obliterate({ force: true }).catch(() => {});
        await queue.close();
      },
    };
  };
}

const queueGroup = defineGroup({
  name: 'redis-queue',
  title: 'Redis queue: messages per second, one producer -> one consumer, local redis-server',
  metric: 'throughput',
  unit: 'msg',
  notes:
    'Small objects (5 fields, JSON) through a local redis-server (127.0.0.1, no persistence), producer and consumer in this process. RedisQueue: Streams + consumer group, every message acknowledged and deleted before it is handed over. BullMQ 6: Queue.addBulk/add + Worker (removeOnComplete), counted on its completed event. ShmQueue: the shared-memory backend, same process, for scale.',
  competitors: [
    { name: kRedisBatched, side: 'shmsync', available: hasRedisQueue, setup: redisQueueSetup(true) },
    { name: kRedisSingle, side: 'shmsync', available: hasRedisQueue, setup: redisQueueSetup(false) },
    { name: kShmBatched, side: 'shmsync', setup: shmQueueSetup() },
    {
      name: `BullMQ addBulk() ×${kBatch} + Worker (concurrency 64)`,
      side: 'peer',
      vs: kRedisBatched,
      available: peerWithServer('bullmq'),
      setup: bullSetup(true, 64),
    },
    {
      name: 'BullMQ await add() one by one + Worker (concurrency 1)',
      side: 'peer',
      vs: kRedisSingle,
      available: peerWithServer('bullmq'),
      setup: bullSetup(false, 1),
    },
  ],
});

module.exports = [lockGroup, queueGroup];
