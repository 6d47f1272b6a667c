'use strict';
// Building blocks for a group's competitors: loop builders, placeholders and peer loading.
//
// A competitor is { name, side: 'shmsync' | 'peer', vs?, available?, setup?, run?, teardown? }.
//   setup(ctx)  -> optional; may return { run, teardown } (state lives in the closure)
//   run(n)      -> performs n operations. Return nothing (the harness times the call), or
//                  { elapsedNs } (timed by the competitor, e.g. inside a child process), or
//                  { latencies } (Float64Array of n per-operation times in ns, latency groups).
//   available() -> true, or a string saying why it cannot run here (it is then skipped).
// `vs` (peers only): the shmsync competitor name(s) the ratio is computed against
// (default: the group's first shmsync competitor).

// Where loop results go, so V8 cannot drop the measured call as unused (read by nobody).
const sink = { value: undefined };

/**
 * Sync per-operation loop. Each call compiles a fresh loop (new Function), so each competitor
 * gets its own call site and type feedback instead of one megamorphic loop shared by all.
 */
function op(fn) {
  const make = new Function(
    'fn',
    'keep',
    'return function run(n) { let r; for (let i = 0; i < n; i++) r = fn(); keep(r); };',
  );
  return make(fn, keep);
}

/** Async per-operation loop: `await fn()` n times in sequence. */
function asyncOp(fn) {
  const make = new Function(
    'fn',
    'keep',
    'return async function run(n) { let r; for (let i = 0; i < n; i++) r = await fn(); keep(r); };',
  );
  return make(fn, keep);
}

/** Sequential latency loop: times each `await fn()` (or sync fn()) and returns { latencies }. */
function timedOps(fn) {
  return async function run(n) {
    const latencies = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await fn(i);
      latencies[i] = Number(process.hrtime.bigint() - t0);
    }
    return { latencies };
  };
}

function keep(value) {
  sink.value = value;
}

/** The shmsync side of a group whose primitive does not exist yet: listed, not measured. */
function pending(name, note = 'not yet implemented') {
  return { name, side: 'shmsync', pending: note };
}

/** require() a comparison peer from benchmarks/node_modules, or say how to get it. */
function requirePeer(id) {
  try {
    return require(id);
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND') {
      throw new Error(`${id} is not installed (npm ci --prefix benchmarks)`, { cause: err });
    }
    throw err;
  }
}

/**
 * For `available`: true when the peer module loads in this Node, else the reason - not
 * installed (an optional dependency that failed to build), or a native peer built for another
 * Node version (benchmarks/node_modules is installed once, and a run under another Node binary
 * cannot load fs-ext: `npm rebuild --prefix benchmarks` with that Node).
 */
function peerInstalled(id) {
  try {
    require.resolve(id);
  } catch {
    return `${id} is not installed (optional dependency; it may have failed to build here)`;
  }
  try {
    require(id);
    return true;
  } catch (err) {
    return `${id} does not load in Node ${process.version} (${String(err.message).replace(/\s+/g, ' ').slice(0, 240)}; rebuild it with this Node: npm rebuild --prefix benchmarks)`;
  }
}

module.exports = { op, asyncOp, timedOps, pending, requirePeer, peerInstalled };
