// shmsync -> Prometheus: lock wait/hold histograms, owner deaths, queue-full events and queue
// depth, fed by shmsync's diagnostics channels (node:diagnostics_channel) into prom-client.
//
//   const { register } = require('prom-client');
//   const metrics = shmsyncMetrics({ registry: register, queues: [jobs] });
//   ... expose `await register.metrics()` on /metrics; metrics.stop() unsubscribes.
//
// Subscribers run synchronously on the thread that took or released the lock: they only
// observe a number. Queue depth is read at scrape time (ShmQueue.size, a read of the ring).
'use strict';
const dc = require('node:diagnostics_channel');
const client = require('prom-client');

// Seconds: lock waits and holds span microseconds (uncontended) to seconds (a slow holder).
const kBuckets = [1e-6, 1e-5, 1e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5];

function shmsyncMetrics({ registry = client.register, queues = [], prefix = 'shmsync_' } = {}) {
  const registers = [registry];
  const wait = new client.Histogram({
    name: `${prefix}lock_wait_seconds`,
    help: 'Time from acquire() to granted, per lock',
    labelNames: ['lock'],
    buckets: kBuckets,
    registers,
  });
  const hold = new client.Histogram({
    name: `${prefix}lock_hold_seconds`,
    help: 'Time a lock was held (granted to released), per lock',
    labelNames: ['lock'],
    buckets: kBuckets,
    registers,
  });
  const deaths = new client.Counter({
    name: `${prefix}lock_owner_deaths_total`,
    help: 'Acquisitions that recovered a lock from a dead holder',
    labelNames: ['lock'],
    registers,
  });
  const full = new client.Counter({
    name: `${prefix}queue_full_total`,
    help: 'Puts that found the queue full',
    labelNames: ['queue'],
    registers,
  });
  new client.Gauge({
    name: `${prefix}queue_depth`,
    help: 'Messages in the queue at scrape time',
    labelNames: ['queue'],
    registers,
    collect() {
      for (const q of queues) if (!q.ended || q.size > 0) this.set({ queue: q.name }, q.size);
    },
  });
  new client.Gauge({
    name: `${prefix}queue_bytes_used`,
    help: 'Bytes of the ring in use at scrape time',
    labelNames: ['queue'],
    registers,
    collect() {
      for (const q of queues) this.set({ queue: q.name }, q.bytesUsed);
    },
  });

  const handlers = {
    'shmsync:lock:granted': (m) => wait.observe({ lock: m.name }, m.waitMs / 1000),
    'shmsync:lock:released': (m) => {
      if (m.holdMs !== null) hold.observe({ lock: m.name }, m.holdMs / 1000);
    },
    'shmsync:lock:ownerDied': (m) => deaths.inc({ lock: m.name }),
    'shmsync:queue:full': (m) => full.inc({ queue: m.name }),
  };
  for (const [name, fn] of Object.entries(handlers)) dc.subscribe(name, fn);
  return {
    stop() {
      for (const [name, fn] of Object.entries(handlers)) dc.unsubscribe(name, fn);
    },
  };
}

module.exports = { shmsyncMetrics };
