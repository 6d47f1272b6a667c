#!/usr/bin/env node
// Prometheus example: `node examples/prometheus/server.js [port]` (0 picks a free port).
// Serves GET /metrics on 127.0.0.1 with shmsync's lock and queue metrics (metrics.js), while
// a little workload runs: workers take one lock, jobs go through one queue.
// Forked with an IPC channel (the test), it reports { type: 'listening', port } and runs the
// workload on { type: 'work', n } (answering { type: 'worked' }); SIGTERM closes and unlinks.
'use strict';
const http = require('node:http');
const client = require('prom-client');
const { Mutex, ShmQueue } = require('../../dist');
const { shmsyncMetrics } = require('./metrics');

const tag = process.env.EXAMPLE_NAME || `prom-example-${process.pid}`;
const lock = new Mutex(`${tag}-lock`);
const jobs = new ShmQueue(`${tag}-jobs`, { capacity: 1024, codec: 'json' });
const registry = new client.Registry();
const metrics = shmsyncMetrics({ registry, queues: [jobs] });

/** n rounds: a contended critical section (two async holders) and a queue put/get. */
async function work(n) {
  const one = async (i) => {
    await lock.withLock(async () => {
      await new Promise((resolve) => setImmediate(resolve)); // hold across a turn of the loop
      if (!jobs.tryPut({ job: i })) jobs.tryGet();
    });
  };
  for (let i = 0; i < n; i++) await Promise.all([one(i), one(i + 0.5)]);
  while (jobs.tryPut({ fill: true })); // fill the queue: shmsync_queue_full_total counts it
}

const server = http.createServer(async (req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(await registry.metrics());
});

function stop() {
  metrics.stop();
  server.close();
  lock.close();
  Mutex.unlink(lock.name);
  jobs.close();
  ShmQueue.unlink(jobs.name);
}

process.once('SIGTERM', stop);
server.listen(Number(process.argv[2] ?? process.env.PORT ?? 9464), '127.0.0.1', () => {
  const { port } = server.address();
  if (process.send) {
    process.on('message', async (m) => {
      if (m.type === 'work') {
        await work(m.n);
        process.send({ type: 'worked' });
      } else if (m.type === 'stop') {
        stop();
        process.disconnect();
      }
    });
    process.send({ type: 'listening', port });
  } else {
    console.log(`metrics on http://127.0.0.1:${port}/metrics`);
    void work(100);
  }
});
