#!/usr/bin/env node
// Cluster inventory server: `node server.js [port]` (or PORT=...; 0 picks a free port).
// The primary creates the shared inventory and forks WORKERS (default 4) HTTP workers that all
// reserve stock through one Lockable. It prints JSON lines on stdout:
//   { event: 'listening', port, workers: [pid...], segments: [...] }   all workers are up
//   { event: 'exit', pid, code, signal }                                a worker exited
//   { event: 'replaced', old, pid }                                     its replacement listens
//   { event: 'stopped' }                                                SIGTERM: all closed, unlinked
// Endpoints: POST /reserve?item=..&qty=..  (200 reserved, 409 not enough stock, 400 bad input),
// GET /stats, and with INVENTORY_DEBUG=1 POST /debug/hold (takes the lock, reports, hangs).
'use strict';
const cluster = require('node:cluster');
const http = require('node:http');
const { Inventory } = require('./inventory');

const ITEMS = { apple: 900, pear: 600, plum: 400, fig: 200, kiwi: 150, lime: 100, date: 50, yuzu: 20 };
const host = process.env.HOST || '127.0.0.1';
const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);

const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

function primary() {
  const inventory = Inventory.create(ITEMS);
  const count = Number(process.env.WORKERS || 4);
  const env = { INVENTORY_REF: JSON.stringify(inventory) };
  const listening = new Map(); // worker id -> pid, once it listens
  let stopping = false;
  const replacing = new Map(); // new worker id -> old pid

  cluster.setupPrimary({ silent: false });
  cluster.on('message', (worker, m) => {
    if (m.type !== 'listening') return;
    listening.set(worker.id, worker.process.pid);
    if (replacing.has(worker.id)) {
      emit({ event: 'replaced', old: replacing.get(worker.id), pid: worker.process.pid });
      replacing.delete(worker.id);
    } else if (listening.size === count) {
      emit({ event: 'listening', port: m.port, workers: [...listening.values()], segments: inventory.segments() });
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    listening.delete(worker.id);
    emit({ event: 'exit', pid: worker.process.pid, code, signal });
    if (!stopping) replacing.set(cluster.fork(env).id, worker.process.pid);
    else if (Object.keys(cluster.workers).length === 0) finish();
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.send({ type: 'shutdown' });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop); // Ctrl-C reaches the workers too: they ignore it and wait for us
  function finish() {
    inventory.close();
    inventory.unlink();
    emit({ event: 'stopped' });
  }
  for (let i = 0; i < count; i++) cluster.fork(env);
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function handle(inventory, req, res) {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'POST' && url.pathname === '/reserve') {
    const item = url.searchParams.get('item');
    const qty = Number(url.searchParams.get('qty'));
    if (!inventory.names.includes(item) || !Number.isInteger(qty) || qty < 1 || qty > 1000) {
      return send(res, 400, { error: 'item must be a known item and qty an integer from 1 to 1000' });
    }
    const r = await inventory.reserve(item, qty);
    return send(res, r.ok ? 200 : 409, { ...r, item, qty, worker: process.pid });
  }
  if (req.method === 'GET' && url.pathname === '/stats') return send(res, 200, await inventory.stats());
  if (process.env.INVENTORY_DEBUG === '1' && req.method === 'POST' && url.pathname === '/debug/hold') {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    return inventory.debugHold(() => res.write(`${JSON.stringify({ holding: true, pid: process.pid })}\n`));
  }
  return send(res, 404, { error: 'not found' });
}

function worker() {
  const inventory = Inventory.from(JSON.parse(process.env.INVENTORY_REF));
  const server = http.createServer((req, res) => {
    req.resume();
    handle(inventory, req, res).catch((err) => send(res, 500, { error: String(err && err.message) }));
  });
  server.listen(port, host, () => process.send({ type: 'listening', port: server.address().port }));
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(1), 5000).unref(); // a request stuck in debugHold must not block exit
    server.close(() => {
      inventory.close();
      process.disconnect();
    });
    server.closeIdleConnections();
  };
  process.on('message', (m) => m.type === 'shutdown' && shutdown());
  process.on('disconnect', shutdown); // the primary went away
  process.on('SIGINT', () => {}); // the primary coordinates the shutdown
}

if (cluster.isPrimary) primary();
else worker();
