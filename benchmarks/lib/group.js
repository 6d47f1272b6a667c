'use strict';
// Named benchmark groups: one function per competitor, all measured in the same run, samples
// interleaved round-robin so drift on a noisy machine hits every competitor alike.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { sample, calibrate } = require('./measure');
const { median, spread, sorted, percentileSorted } = require('./stats');
const { loadShmsync } = require('./shmsync');

const kMetrics = ['time', 'throughput', 'latency'];

/**
 * Declares a group. `metric`: 'time' (ns per op, lower is better), 'throughput' (ops/s, higher
 * is better) or 'latency' (per-op p50/p99 of sequential operations, lower is better).
 */
function defineGroup(spec) {
  const { name, title, metric, unit = 'op', competitors, bytesPerOp, columns } = spec;
  if (!/^[a-z0-9-]+$/.test(name ?? '')) throw new TypeError(`group name must be kebab-case: ${name}`);
  if (!kMetrics.includes(metric)) throw new TypeError(`group ${name}: metric must be one of ${kMetrics}`);
  const seen = new Set();
  for (const c of competitors) {
    if (c.side !== 'shmsync' && c.side !== 'peer')
      throw new TypeError(`${name}/${c.name}: side must be 'shmsync' or 'peer'`);
    if (seen.has(c.name)) throw new TypeError(`${name}: duplicate competitor ${c.name}`);
    seen.add(c.name);
    if (!c.pending && !c.documented && !c.setup && !c.run)
      throw new TypeError(`${name}/${c.name}: needs setup() or run()`);
    if (c.documented && c.side !== 'peer')
      throw new TypeError(`${name}/${c.name}: only a peer can be a documented figure`);
  }
  return { name, title: title ?? name, metric, unit, bytesPerOp, columns, notes: spec.notes ?? '', competitors };
}

function availability(c) {
  if (c.pending) return { status: 'pending', note: c.pending };
  if (c.documented) return { status: 'ok', documented: true, note: c.documented.source };
  if (c.side === 'shmsync') {
    const { error } = loadShmsync();
    if (error) return { status: 'skipped', note: `shmsync could not be loaded: ${error.message.split('\n')[0]}` };
  }
  const ok = c.available ? c.available() : true;
  return ok === true ? { status: 'ok' } : { status: 'skipped', note: String(ok) };
}

/** Score where higher is better, so ratio = score(shmsync) / score(peer) reads "N x faster". */
function score(metric, r) {
  if (metric === 'throughput') return r.opsPerSec;
  if (metric === 'latency') return 1 / r.p50Ns;
  return 1 / r.nsPerOp;
}

function summarise(metric, samples) {
  const ops = (s) => s.ops ?? s.n;
  const nsPerOp = samples.map((s) => s.elapsedNs / ops(s));
  const opsPerSec = samples.map((s) => (ops(s) * 1e9) / s.elapsedNs);
  const out = {
    n: median(samples.map(ops)),
    samples: samples.length,
    nsPerOp: median(nsPerOp),
    opsPerSec: median(opsPerSec),
    spread: spread(nsPerOp),
    perSample: nsPerOp.map((x) => Number(x.toFixed(3))),
  };
  if (metric === 'latency') {
    const all = sorted(samples.flatMap((s) => Array.from(s.latencies)));
    const totalN = samples.reduce((a, s) => a + s.n, 0);
    const totalNs = samples.reduce((a, s) => a + s.elapsedNs, 0);
    Object.assign(out, {
      p50Ns: percentileSorted(all, 50),
      p99Ns: percentileSorted(all, 99),
      maxNs: all[all.length - 1],
      opsPerSec: (totalN * 1e9) / totalNs,
      spread: spread(samples.map((s) => percentileSorted(sorted(s.latencies), 50))),
    });
  }
  const keys = [...new Set(samples.flatMap((s) => Object.keys(s.extra ?? {})))];
  if (keys.length) {
    out.extra = {};
    for (const k of keys) {
      const values = samples.map((s) => s.extra?.[k]).filter((v) => typeof v === 'number');
      out.extra[k] = { median: median(values), min: Math.min(...values), max: Math.max(...values) };
    }
  }
  return out;
}

/** A figure quoted from documentation, not measured: { p50Ns, p99Ns } or { nsPerOp } or { opsPerSec }. */
function documentedResult(doc) {
  const out = { n: 0, samples: 0, spread: 0 };
  if (doc.p50Ns !== undefined)
    Object.assign(out, { p50Ns: doc.p50Ns, p99Ns: doc.p99Ns ?? doc.p50Ns, nsPerOp: doc.p50Ns, opsPerSec: NaN });
  if (doc.nsPerOp !== undefined) Object.assign(out, { nsPerOp: doc.nsPerOp, opsPerSec: 1e9 / doc.nsPerOp });
  if (doc.opsPerSec !== undefined) Object.assign(out, { opsPerSec: doc.opsPerSec, nsPerOp: 1e9 / doc.opsPerSec });
  return out;
}

async function runGroup(group, opts) {
  const { sampleTimeMs, samples, quick, pin } = opts;
  const tmpdir = fs.mkdtempSync(path.join(os.tmpdir(), `shmsync-bench-${group.name}-`));
  const ctx = { quick, tmpdir, pin, group: group.name, sampleTimeMs, samples };
  const targetNs = sampleTimeMs * 1e6;
  const timeoutMs = Math.max(20_000, sampleTimeMs * 50);
  const rows = group.competitors.map((c) => ({ c, result: { name: c.name, side: c.side, ...availability(c) } }));
  const live = [];
  try {
    for (const row of rows) {
      if (row.result.status !== 'ok' || row.c.documented) continue;
      try {
        const inst = (row.c.setup ? await row.c.setup(ctx) : null) ?? {};
        row.run = inst.run ?? row.c.run;
        row.teardown = inst.teardown ?? row.c.teardown;
        if (typeof row.run !== 'function') throw new TypeError('setup() returned no run function');
        const maxN = inst.maxN ?? row.c.maxN;
        const minN = inst.minN ?? row.c.minN;
        const fixedN = inst.fixedN ?? row.c.fixedN;
        row.maxSamples = inst.maxSamples ?? row.c.maxSamples ?? Infinity;
        if (fixedN !== undefined) {
          // Fixed-size samples (fixed-time runs, expensive ops): one discarded warm-up sample,
          // unless the competitor says every op is cold anyway (warmUp: false).
          row.n = fixedN;
          if ((inst.warmUp ?? row.c.warmUp) !== false) await sample(row.run, row.n, timeoutMs);
        } else {
          row.n = await calibrate(row.run, { targetNs, maxN, minN, timeoutMs });
          row.n = await warmUp(row.run, row.n, { targetNs, maxN, minN, timeoutMs });
        }
        row.samples = [];
        live.push(row);
      } catch (err) {
        fail(row, err);
      }
    }
    for (let round = 0; round < samples; round++) {
      const active = live.filter((r) => r.result.status === 'ok' && r.samples.length < r.maxSamples);
      for (let k = 0; k < active.length; k++) {
        const row = active[(k + round) % active.length]; // rotate who goes first
        try {
          row.samples.push(await sample(row.run, row.n, timeoutMs));
        } catch (err) {
          fail(row, err);
        }
      }
    }
  } finally {
    for (const row of rows) {
      if (!row.teardown) continue;
      try {
        await row.teardown();
      } catch (err) {
        if (row.result.status === 'ok') fail(row, err);
      }
    }
    fs.rmSync(tmpdir, { recursive: true, force: true });
  }
  for (const row of live) {
    if (row.result.status === 'ok') Object.assign(row.result, summarise(group.metric, row.samples));
  }
  for (const row of rows) {
    if (row.c.documented) Object.assign(row.result, documentedResult(row.c.documented));
    if (row.result.status === 'ok' && typeof row.c.detail === 'function') {
      try {
        row.result.detail = row.c.detail(row.result);
      } catch (err) {
        row.result.detail = `(detail failed: ${err.message})`;
      }
    }
  }
  addRatios(
    group,
    rows.map((r) => r.result),
  );
  return {
    name: group.name,
    title: group.title,
    metric: group.metric,
    unit: group.unit,
    bytesPerOp: group.bytesPerOp,
    columns: group.columns,
    notes: group.notes,
    competitors: rows.map((r) => r.result),
  };
}

/**
 * Full-size warm-up samples, discarded. Each one re-scales n toward the target time, which
 * corrects a calibration done on cold code or hit by a stall; at most three. A run that is
 * already at the target within a factor 1.5 (or at a bound) stops.
 */
async function warmUp(run, n, { targetNs, maxN = Infinity, minN = 1, timeoutMs }) {
  for (let i = 0; i < 3; i++) {
    const { elapsedNs } = await sample(run, n, timeoutMs);
    if (process.env.BENCH_DEBUG) console.error(`  warm-up n=${n} ${(elapsedNs / 1e6).toFixed(2)} ms`);
    const scale = Math.min(10, Math.max(0.1, targetNs / Math.max(elapsedNs, 1)));
    const next = Math.max(minN, Math.min(maxN, Math.round(n * scale)));
    if ((scale > 0.67 && scale < 1.5) || next === n) break;
    n = next;
  }
  return n;
}

function fail(row, err) {
  row.result.status = 'error';
  row.result.note = err && err.message ? err.message : String(err);
}

function addRatios(group, results) {
  const shm = results.filter((r) => r.side === 'shmsync');
  for (const r of results) {
    if (r.side !== 'peer') continue;
    const c = group.competitors.find((x) => x.name === r.name);
    const names = c.vs === undefined ? shm.slice(0, 1).map((s) => s.name) : [].concat(c.vs);
    r.ratios = [];
    for (const vs of names) {
      const s = shm.find((x) => x.name === vs);
      if (!s) throw new Error(`${group.name}/${r.name}: vs names no shmsync competitor "${vs}"`);
      const ratio = s.status === 'ok' && r.status === 'ok' ? score(group.metric, s) / score(group.metric, r) : null;
      r.ratios.push({ vs, ratio, status: s.status });
    }
  }
}

module.exports = { defineGroup, runGroup };
