// Demo section: pcall over 4 child processes that share a Lockable counter (pcall-target.js),
// then the same calls on a warm ProcessPool, timed.
'use strict';
const { pcall, ProcessPool } = require('../../dist');
const { say } = require('./lib');
const { Tally } = require('./pcall-target');

exports.title = 'pcall: 4 children increment one Lockable counter; cold spawn vs warm pool';

const kChildren = 4;
const kTimes = 2_000; // increments per child
const kTimeoutMs = 30_000; // pcall kills the children and rejects if they take longer
const target = { module: require.resolve('./pcall-target'), export: 'work' };

/** Runs the 4 calls of `times` increments (on `pool` if given) from a zero count; checks them. */
async function round(tally, pool, times = kTimes) {
  tally.count.value = 0;
  const started = process.hrtime.bigint();
  const results = await pcall(target, {
    iargs: Array.from({ length: kChildren }, () => [tally, times]),
    timeout: kTimeoutMs,
    ...(pool === undefined ? {} : { pool }),
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const total = tally.count.value;
  const expected = kChildren * times;
  if (total !== expected) throw new Error(`the counter is ${total}, expected ${expected}: increments were lost`);
  if (!results.every((r) => r.isTally && r.times === times))
    throw new Error(`unexpected results ${JSON.stringify(results)}`);
  return { results, total, wallMs };
}

const pidsOf = (results) => [...new Set(results.map((r) => r.pid))].sort((a, b) => a - b).join(', ');
const msText = (wallMs) => `${wallMs.toFixed(0).padStart(5)} ms`;

exports.run = async function run() {
  const tally = new Tally();
  let pool = null;
  try {
    say('parent', `created a Tally (a Lockable subclass) over mutex "${tally.lock.name}"`);
    say('parent', `and SharedValue "${tally.count.name}"; increment() is wrapped with Lockable.locked`);

    const cold = await round(tally);
    say('parent', `pcall({ module: 'pcall-target.js', export: 'work' }, { iargs: ${kChildren} x [tally, ${kTimes}] })`);
    say('parent', 'resolved with the results in call order:');
    cold.results.forEach((r, i) =>
      say(`call ${i}`, `pid ${r.pid}: ${r.times} increments, the counter read ${r.last} after its last one`),
    );
    say('parent', `total ${cold.total} = ${kChildren} x ${kTimes}: exact`);

    // A pool starts its children at once; a first call on each loads the target there (an idle
    // pool hands one queued call to every idle child, so 4 calls warm all 4).
    pool = new ProcessPool({ size: kChildren });
    const warmUp = await round(tally, pool, 0);
    say(
      'parent',
      `started a ProcessPool of ${pool.size} (pids ${pidsOf(warmUp.results)}) and warmed it with a 0-increment call each`,
    );
    const runs = [await round(tally, pool), await round(tally, pool)];
    say(
      'parent',
      `the same pcall twice with { pool }: totals ${runs.map((r) => r.total).join(' and ')}, exact (pids ${pidsOf(runs.flatMap((r) => r.results))})`,
    );
    say('time', `one-shot pcall (spawns 4 children)  ${msText(cold.wallMs)}`);
    say('time', `pool start + warm-up (once)         ${msText(warmUp.wallMs)}`);
    runs.forEach((r, i) => say('time', `warm pool, run ${i + 1}                   ${msText(r.wallMs)}`));
    await pool.close();
    pool = null;
    say('parent', 'closed the pool: its children exited');
  } finally {
    if (pool !== null) await pool.destroy(); // an error above: kill the pool children now
    tally.close();
    tally.unlink();
    say('parent', "closed and unlinked the Tally's mutex and SharedValue");
  }
};
