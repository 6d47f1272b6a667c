'use strict';
// The local redis-server the Redis benchmark groups (groups/redis.js) run against: one per group
// process, started on first use on a free 127.0.0.1 port in the group's temp dir, no persistence
// (`--save '' --appendonly no`: the peers' defaults, and the queue rows measure the protocol, not
// fsync), stopped when the group process exits. Ready = its "Ready to accept connections" line,
// then a PING answered by +PONG.
const { spawn } = require('node:child_process');
const net = require('node:net');

let started = null;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function ping(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.setEncoding('utf8');
    sock.once('error', reject);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      sock.destroy();
      if (d.startsWith('+PONG')) resolve();
      else reject(new Error(`redis-server answered ${JSON.stringify(d)}`));
    });
  });
}

/** For `available`: true when redis-server runs here, else why not. */
function redisServerAvailable() {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(process.env.SHMSYNC_REDIS_SERVER ?? 'redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? true : 'redis-server is not installed (Debian package redis-server)';
}

/** { port, url, version } of this group process's server (started once). */
function redisServer(ctx) {
  if (started) return started;
  started = (async () => {
    const port = await freePort();
    const bin = process.env.SHMSYNC_REDIS_SERVER ?? 'redis-server';
    const proc = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', ctx.tmpdir, '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    process.once('exit', () => proc.kill('SIGKILL'));
    let log = '';
    await new Promise((resolve, reject) => {
      const onData = (d) => {
        log += d;
        if (log.includes('Ready to accept connections')) resolve();
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${log}`)));
    });
    await ping(port);
    const version = (/v=([\d.]+)/.exec(log) ?? [])[1] ?? 'unknown';
    proc.stdout.resume();
    proc.stderr.resume();
    proc.unref();
    return { port, url: `redis://127.0.0.1:${port}`, version, stop: () => proc.kill('SIGKILL') };
  })();
  return started;
}

module.exports = { redisServer, redisServerAvailable };
