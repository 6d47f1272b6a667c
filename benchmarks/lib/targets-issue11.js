'use strict';
// Issue 11's benchmark targets (channels and pools), evaluated by lib/targets.js against the
// `channel` and `async-pool` groups of one run. Every check is a same-run ratio.
const fmt = require('./format');
const { x } = require('./target-kinds');
const channel = require('../groups/channel').names;
const pool = require('../groups/async-pool').names;

const kArray = ['channel', 'plain array queue, push() ×256 + slice(256)'];
const kAsyncIter = ['channel', 'async-iterator queue, push() ×256 + await next() each'];
const kPostBytes = ['channel', 'worker postMessage, 64 B Buffer'];
const kPostObjects = ['channel', 'worker postMessage, small object'];
const kSocket = ['channel', 'Unix socket, framed 64 B'];
const kSocketCorked = ['channel', 'Unix socket, framed 64 B, corked'];

/** A competitor's result whatever its status, or null. */
function lookup(run, [group, name]) {
  const g = run.groups.find((r) => r.name === group);
  return (g && g.competitors.find((c) => c.name === name)) ?? null;
}

function whyNot(run, of) {
  const r = lookup(run, of);
  if (!r) return `${of[1]}: not in this run`;
  if (r.status === 'ok') return null;
  return `${of[1]}: ${r.status}${r.note ? ` (${r.note})` : ''}`;
}

/**
 * A custom check of shmsync `of` against `peers`: left out (null) when of's group did not run,
 * not measured (with the reason) when `of` or every peer has no result, else
 * `compare(s, found)` with `found` = [[peer, result], ...] for the peers that have a result.
 */
function customCheck(label, of, peers, compare) {
  return {
    label,
    kind: 'custom',
    evaluate(find, run) {
      if (!run.groups.some((g) => g.name === of[0])) return null;
      const s = find(...of);
      const found = peers.map((p) => [p, find(...p)]).filter(([, r]) => r);
      if (!s || found.length === 0) {
        return { measured: null, met: null, note: whyNot(run, of) ?? peers.map((p) => whyNot(run, p)).join('; ') };
      }
      return compare(s, found);
    },
  };
}

/**
 * shmsync `of` against the best of `peers` (throughput, higher is better): met when
 * shmsync / best ≥ threshold (null = info).
 */
function throughputVsBest(label, of, peers, threshold) {
  return customCheck(label, of, peers, (s, found) => {
    const [bestOf, best] = found.reduce((a, b) => (b[1].opsPerSec > a[1].opsPerSec ? b : a));
    const k = s.opsPerSec / best.opsPerSec;
    return {
      measured: `${x(k)} ${bestOf[1]} (${fmt.rate(s.opsPerSec)} vs ${fmt.rate(best.opsPerSec)})`,
      met: threshold === null ? null : k >= threshold,
    };
  });
}

/** shmsync `of` time per item over the peer's: met when ≤ threshold (null = info). */
function timeVs(label, of, peer, threshold) {
  return customCheck(label, of, [peer], (s, [[, p]]) => {
    const k = s.nsPerOp / p.nsPerOp;
    return {
      measured: `${x(k)} the time per item (${fmt.duration(s.nsPerOp)} vs ${fmt.duration(p.nsPerOp)})`,
      met: threshold === null ? null : k <= threshold,
    };
  });
}

const kIssue11 = [
  {
    id: '11.1',
    figure: 'channel write+read in process (batches of 256)',
    checks: [
      throughputVsBest(
        '≥ 0.8× the faster of a plain array queue / an async-iterator queue (SerialChannel, tryWrite)',
        ['channel', channel.kSerialTry],
        [kArray, kAsyncIter],
        0.8,
      ),
      throughputVsBest(
        'info: SerialChannel with await write() per item',
        ['channel', channel.kSerialWrite],
        [kArray, kAsyncIter],
        null,
      ),
      throughputVsBest(
        'info: Channel (AsyncQueue), tryWrite',
        ['channel', channel.kChannelTry],
        [kArray, kAsyncIter],
        null,
      ),
    ],
  },
  {
    id: '11.2',
    figure: 'shared channel, process → process (64 B)',
    checks: [
      throughputVsBest('≥ 3× worker postMessage', ['channel', channel.kSharedBytes], [kPostBytes], 3),
      throughputVsBest(
        '≥ 3× Unix socket (framed, one write per message)',
        ['channel', channel.kSharedBytes],
        [kSocket],
        3,
      ),
      throughputVsBest('info: vs a corked Unix socket', ['channel', channel.kSharedBytes], [kSocketCorked], null),
      throughputVsBest(
        'info: reader blocking in readSync(256), vs worker postMessage',
        ['channel', channel.kSharedSync],
        [kPostBytes],
        null,
      ),
      throughputVsBest(
        'info: reader blocking in readSync(256), vs Unix socket',
        ['channel', channel.kSharedSync],
        [kSocket],
        null,
      ),
      throughputVsBest(
        'info: small objects (json codec) vs worker postMessage of the same object',
        ['channel', channel.kSharedObjects],
        [kPostObjects],
        null,
      ),
    ],
  },
  {
    id: '11.3',
    figure: 'Pool size 0, per item through a chain, vs a hand-written Promise.all pipeline',
    checks: pool.kChains.map((k) =>
      timeVs(
        `chain of ${k}: ≤ 1.5× the time`,
        ['async-pool', pool.poolName(0, k)],
        ['async-pool', pool.promiseName(k)],
        1.5,
      ),
    ),
  },
  {
    id: '11.4',
    figure: 'Pool with 2 worker threads, per item, vs piscina (one task per item per stage)',
    checks: pool.kChains.map((k) =>
      timeVs(
        `chain of ${k}: faster (< 1× the time)`,
        ['async-pool', pool.poolName(2, k)],
        ['async-pool', pool.piscinaName(k)],
        0.999,
      ),
    ),
  },
];

module.exports = { kIssue11 };
