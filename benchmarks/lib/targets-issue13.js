'use strict';
// Issue 13's benchmark target (Web Locks across processes): the uncontended request() round
// trip within 2x of Node's in-process navigator.locks, measured in the same run (the web-locks
// group, both rows under the same Node >= 24 binary). Evaluated by lib/targets.js.
const { C, time, x } = require('./target-kinds');

/** A competitor's result in a run whatever its status, or null. */
function lookup(run, [group, name]) {
  const g = run.groups.find((r) => r.name === group);
  return (g && g.competitors.find((c) => c.name === name)) ?? null;
}

/** Why a row has no result ("skipped: …"), or null when it has one or is absent. */
function whyNot(run, of) {
  const r = lookup(run, of);
  if (!r || r.status === 'ok') return null;
  return `${of[1]}: ${r.status}${r.note ? ` (${r.note})` : ''}`;
}

/** `peerOf` is the peer's row, `threshold` the highest shmsync/peer time ratio that passes (null = info). */
function timeRatio(label, peerOf, threshold) {
  return {
    label,
    kind: 'custom',
    evaluate(find, run) {
      if (!run.groups.some((g) => g.name === C.webLocksRequest[0])) return null;
      const s = find(...C.webLocksRequest);
      const p = find(...peerOf);
      if (!s || !p) {
        const note = whyNot(run, C.webLocksRequest) ?? whyNot(run, peerOf) ?? 'not in this run';
        return { measured: null, met: null, note };
      }
      const k = s.nsPerOp / p.nsPerOp;
      return {
        measured: `${x(k)} the time (${time(s.nsPerOp)} vs ${time(p.nsPerOp)})`,
        met: threshold === null ? null : k <= threshold,
      };
    },
  };
}

const kIssue13 = [
  {
    id: '13.1',
    figure: 'uncontended `locks.request(name, cb)` round trip, across processes',
    checks: [
      timeRatio("≤ 2.0× Node's in-process navigator.locks (time)", C.navigatorLocks, 2.0),
      timeRatio('info: vs proper-lockfile lock()+release() async', C.webLocksLockfile, null),
    ],
  },
];

module.exports = { kIssue13 };
