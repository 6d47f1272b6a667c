import t from 'tap';
import * as fs from 'node:fs';
import Redis from 'ioredis';
import { ping, RedisServer } from './helpers/redis-server';

// The harness the Redis backend's tests stand on: a real server per test, ready by handshake,
// restartable on the same port with its data, and gone after the test.

t.test('a started server answers PING and commands; stop() removes the process and the directory', async (t) => {
  const server = await RedisServer.start(t);
  await ping(server.port);
  const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  t.equal(await client.set('k', 'v'), 'OK');
  t.equal(await client.get('k'), 'v');
  t.equal(await client.config('GET', 'appendonly').then((r) => (r as string[])[1]), 'no', 'no persistence by default');
  client.disconnect();
  const pid = server.pid!;
  await server.stop();
  t.notOk(fs.existsSync(server.dir), 'temporary directory removed');
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'process gone');
  await t.rejects(ping(server.port), 'nobody answers on the port any more');
});

t.test('restart() keeps the port and, with persist, every acknowledged write', async (t) => {
  const server = await RedisServer.start(t, { persist: true });
  const port = server.port;
  const client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await client.connect();
  t.equal(await client.incr('fence'), 1);
  client.disconnect();
  const before = server.pid;
  await server.restart({ kill: true }); // a crash: only the fsynced AOF survives
  t.not(server.pid, before, 'a new process');
  t.equal(server.port, port, 'same port');
  const again = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await again.connect();
  t.equal(await again.incr('fence'), 2, 'the counter survived the SIGKILL');
  again.disconnect();
});

t.test('a missing binary fails the start (no silent skip)', async (t) => {
  const saved = process.env.SHMSYNC_REDIS_SERVER;
  // The binary is read at module load: spawn the failure through a fresh module instance.
  process.env.SHMSYNC_REDIS_SERVER = '/nonexistent/redis-server';
  t.teardown(() => {
    if (saved === undefined) delete process.env.SHMSYNC_REDIS_SERVER;
    else process.env.SHMSYNC_REDIS_SERVER = saved;
  });
  const fresh = t.mockRequire('./helpers/redis-server') as typeof import('./helpers/redis-server');
  await t.rejects(fresh.RedisServer.start(t), /cannot run \/nonexistent\/redis-server/);
});
