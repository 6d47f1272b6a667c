'use strict';
// The pipelines of groups actor-throughput and actor-latency: the same stages (sources →
// forwarding middle stages → one counting sink) built three ways, all long-lived across the
// samples of a run:
//
//   * shmsync: a Relay of actors (children/actor-stages.js), process or thread mode. The relay
//     is started once; the main process starts a run through a control ShmQueue the sources
//     read, and hears it end through a 'done' ShmQueue the sink writes (both outside the relay).
//   * child_process IPC (children/pipeline-ipc-stage.js): fork()ed stages, json serialization
//     (the default, and the faster of the two for small objects in ipc-throughput). Children
//     cannot reach each other over Node's IPC channel, so this process routes: every message a
//     stage sends comes here and is process.send()-ed on to the next stage, round robin.
//   * worker_threads (children/pipeline-worker-stage.js): one MessageChannel per (sender,
//     receiver) pair of consecutive stages, ports transferred to the workers; stages post to
//     each other directly, round robin; the main thread is not on the data path.
//
// `stages` is the topology: [1, 1] = 1 → 1, [2, 4, 1] = 2 → 4 → 1, [1, 1, 1] = a 3-stage chain.
// run(n) for 'throughput' splits n messages over the sources and resolves when the sink has
// counted all of them (the sink keeps a running total, so a run is "until total + n").
// run(n) for 'latency' sends n messages one at a time (the next when the sink acked the
// previous one) and returns the per-message source→sink times the sink measured with
// process.hrtime (CLOCK_MONOTONIC, one clock for every process and thread on the machine).
const fs = require('node:fs');
const { forkChild, startWorker } = require('./child');

const kGiveUpMs = 30_000;

/** n split over k sources as evenly as possible. */
function split(n, k) {
  return Array.from({ length: k }, (_, i) => Math.floor(n / k) + (i < n % k ? 1 : 0));
}

/** CPU ms of process `pid` so far (user + system, /proc clock ticks of 10 ms), 0 if unreadable. */
function procCpuMs(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * Wraps a throughput run(n) so each sample also reports the CPU time every stage spent per
 * message (`extra.cpuUsPerMsg`): this process (all its threads: worker stages, the IPC router,
 * the relay's main side) plus the child processes `pids()` names. Unlike msgs/s on a shared
 * machine, it hardly depends on what else runs, so it says where a pipeline's time goes.
 */
function withCpu(run, pids) {
  return async (n) => {
    const ids = pids();
    const c0 = ids.map(procCpuMs);
    const p0 = process.cpuUsage();
    const out = await run(n);
    const p = process.cpuUsage(p0);
    const childMs = ids.reduce((a, pid, i) => a + procCpuMs(pid) - c0[i], 0);
    const ms = (p.user + p.system) / 1000 + childMs;
    return { ...(out ?? {}), extra: { cpuUsPerMsg: (ms * 1000) / n } };
  };
}

/** `detail` of a throughput competitor measured through withCpu. */
function cpuDetail(r) {
  const c = r.extra?.cpuUsPerMsg;
  if (!c) return null;
  return `CPU per message, every stage and this process together: ${c.median.toFixed(1)} µs (median of samples; min ${c.min.toFixed(1)}, max ${c.max.toFixed(1)})`;
}

function checkStages(stages) {
  if (stages.length < 2 || stages.at(-1) !== 1 || !stages.every((k) => Number.isInteger(k) && k > 0))
    throw new RangeError(`pipeline stages must be ≥ 2 groups ending in one sink, got ${stages}`);
}

/**
 * Starts the stages one at a time, `start(role)` each ('source' for the first group, 'sink' for
 * the last, 'middle' between), into `groups[g][i]`: filled as they start, so the caller can
 * close the ones already running when a later one fails.
 */
async function startStages(stages, groups, start) {
  for (let g = 0; g < stages.length; g++) {
    const role = g === 0 ? 'source' : g === stages.length - 1 ? 'sink' : 'middle';
    const group = [];
    groups.push(group);
    for (let i = 0; i < stages[g]; i++) group.push(await start(role));
  }
}

/**
 * Given the stage handles (groups[g][i]) with `call`, the run functions of a throughput or
 * latency benchmark. Shared by the IPC and worker pipelines (same commands).
 */
function runner(groups, kind) {
  const sources = groups[0];
  const sink = groups.at(-1)[0];
  let total = 0;
  if (kind === 'throughput') {
    return async (n) => {
      total += n;
      const done = sink.call('expect', { until: total });
      const parts = split(n, sources.length);
      await Promise.all(sources.map((s, i) => (parts[i] > 0 ? s.call('produce', { n: parts[i] }) : null)));
      await done;
    };
  }
  if (sources.length !== 1) throw new RangeError('a latency chain has one source');
  return async (n) => {
    total += n;
    // Armed before the first message can reach the sink (a worker sink gets data on a
    // MessagePort and commands on parentPort: an unarmed sink would not ack, the chain would hang).
    await sink.call('collect', { n });
    const done = sink.call('expect', { until: total });
    await sources[0].call('chain', { n });
    const { latencies } = await done;
    return { latencies: Float64Array.from(latencies) };
  };
}

async function closeAll(groups) {
  const errors = [];
  for (const g of groups) {
    for (const s of g) {
      try {
        await s.close();
      } catch (err) {
        errors.push(err);
      }
    }
  }
  if (errors.length) throw errors[0];
}

/** child_process IPC pipeline, routed through this process. */
function ipcPipeline(stages, kind) {
  checkStages(stages);
  return async (ctx) => {
    const groups = [];
    try {
      await startStages(stages, groups, (role) =>
        forkChild('pipeline-ipc-stage.js', { env: { ...process.env, BENCH_ROLE: role }, cpu: ctx.pin ? 1 : undefined }),
      );
      // The router: each group's messages go round robin to the next group's children.
      for (let g = 0; g < groups.length - 1; g++) {
        const next = groups[g + 1].map((c) => c.handle);
        let k = 0;
        const route = (msg) => {
          next[k].send(msg);
          if (++k === next.length) k = 0;
        };
        for (const c of groups[g]) c.onData = route;
      }
      const source = groups[0][0].handle;
      groups.at(-1)[0].onData = (msg) => source.send(msg); // latency acks, sink → source
    } catch (err) {
      await closeAll(groups).catch(() => {});
      throw err;
    }
    const run = runner(groups, kind);
    return {
      run: kind === 'throughput' ? withCpu(run, () => groups.flat().map((c) => c.handle.pid)) : run,
      teardown: () => closeAll(groups),
      maxN: 2e6,
    };
  };
}

/** worker_threads pipeline: stages post to each other over transferred MessagePorts. */
function workerPipeline(stages, kind) {
  checkStages(stages);
  return async () => {
    const { MessageChannel } = require('node:worker_threads');
    const groups = [];
    try {
      await startStages(stages, groups, (role) => startWorker('pipeline-worker-stage.js', { workerData: { role } }));
      const wiring = groups.map((g) => g.map(() => ({ ins: [], outs: [], ack: null })));
      for (let g = 0; g < groups.length - 1; g++) {
        for (const from of wiring[g]) {
          for (const to of wiring[g + 1]) {
            const { port1, port2 } = new MessageChannel();
            from.outs.push(port1);
            to.ins.push(port2);
          }
        }
      }
      const ack = new MessageChannel(); // latency acks, sink → source
      wiring.at(-1)[0].ack = ack.port1;
      wiring[0][0].ack = ack.port2;
      groups.forEach((g, gi) =>
        g.forEach((w, i) => {
          const wire = wiring[gi][i];
          const transfer = [...wire.ins, ...wire.outs, ...(wire.ack ? [wire.ack] : [])];
          w.handle.postMessage({ wire }, transfer);
        }),
      );
    } catch (err) {
      await closeAll(groups).catch(() => {});
      throw err;
    }
    // postMessage has no backpressure: cap a sample so the queues stay a few hundred MB at most.
    const run = runner(groups, kind);
    return { run: kind === 'throughput' ? withCpu(run, () => []) : run, teardown: () => closeAll(groups), maxN: 1e6 };
  };
}

module.exports = { ipcPipeline, workerPipeline, split, checkStages, withCpu, cpuDetail, kGiveUpMs };
