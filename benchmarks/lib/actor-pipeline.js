'use strict';
// The shmsync competitor of groups actor-throughput and actor-latency: a Relay of the actors in
// children/actor-stages.js (Source → Forward… → Sink), started once per competitor and kept
// for all its samples. The runs are driven through ShmQueues outside the relay (see the header
// of children/actor-stages.js); the relay's own queues carry only the measured messages.
const path = require('node:path');
const { childrenDir } = require('./child');
const { loadShmsync, shmsync } = require('./shmsync');
const { benchName, unlinkName, guarded } = require('./shm-names');
const { split, checkStages, withCpu, kGiveUpMs } = require('./pipelines');

const kStages = path.join(childrenDir, 'actor-stages.js');
/** The relay's bound, in messages: backpressure as a user would configure it. */
const kMaxsize = 1000;

/** For `available`: the Actor/Relay API of issue 12 is in this build. */
function hasRelay() {
  const { shmsync: api, error } = loadShmsync();
  if (error) return `shmsync could not be loaded: ${error.message.split('\n')[0]}`;
  return typeof api.Relay === 'function' && typeof api.ActorRef === 'function'
    ? true
    : 'Relay/ActorRef (issue 12) are not in this build';
}

/**
 * setup() of a relay pipeline: `stages` as lib/pipelines.js ([1, 1], [2, 4, 1], [1, 1, 1]),
 * `kind` 'throughput' | 'latency', `mode` 'process' | 'thread' (where every actor runs),
 * `codec` the relay's link codec (undefined: the default, 'structured').
 */
function actorPipeline(stages, kind, mode, codec) {
  checkStages(stages);
  if (kind === 'latency' && stages[0] !== 1) throw new RangeError('a latency chain has one source');
  return () =>
    guarded(async (track) => {
      const { Relay, ActorRef, ShmQueue } = shmsync();
      const queue = (kindName, codec) => {
        const name = benchName(kindName);
        track(() => unlinkName(name));
        const q = new ShmQueue(name, { create: 'create', codec });
        track(() => q.close());
        return q;
      };
      const ctl = stages[0] === 0 ? [] : Array.from({ length: stages[0] }, () => queue('actor-ctl', 'json'));
      const expect = queue('actor-expect', 'json');
      const done = queue('actor-done', 'structured');
      const ack = kind === 'latency' ? queue('actor-ack', 'json') : null;
      const last = stages.length - 1;
      const groups = stages.map((k, g) =>
        Array.from({ length: k }, (_, i) => {
          const args =
            g === 0
              ? { ctl: ctl[i].name, ack: ack?.name }
              : g === last
                ? { expect: expect.name, done: done.name, ack: ack?.name }
                : {};
          return new ActorRef({
            module: kStages,
            export: g === 0 ? 'Source' : g === last ? 'Sink' : 'Forward',
            args: [args],
            mode,
          });
        }),
      );
      const relay = new Relay({ maxsize: kMaxsize, logger: () => {}, ...(codec ? { codec } : {}) });
      relay.connect(...groups);
      const started = relay.start();
      let ended = false;
      // A failed actor fails the sample now instead of at its timeout.
      const early = started.then(
        () => {
          ended = true;
          throw new Error('the relay finished before the run did');
        },
        (err) => {
          ended = true;
          throw err;
        },
      );
      early.catch(() => {});
      track(async () => {
        if (!ended) for (const g of groups) for (const a of g) a.kill();
        await started.catch(() => {});
      });

      let total = 0;
      const finished = () => Promise.race([done.get({ timeout: kGiveUpMs }), early]);
      const run =
        kind === 'throughput'
          ? async (n) => {
              total += n;
              expect.putSync({ until: total });
              split(n, ctl.length).forEach((part, i) => part > 0 && ctl[i].putSync({ n: part }));
              const r = await finished();
              if (r.count !== total) throw new Error(`the sink counted ${r.count}, expected ${total}`);
            }
          : async (n) => {
              total += n;
              expect.putSync({ until: total, collect: n });
              ctl[0].putSync({ chain: n });
              const r = await finished();
              return { latencies: r.latencies };
            };
      // Process mode: the actors' pids; thread mode: their CPU is this process's.
      const pids = () => (mode === 'thread' ? [] : groups.flat().map((a) => a.pid));
      return {
        run: kind === 'throughput' ? withCpu(run, pids) : run,
        // A latency sample comes back as one message of the done queue (8 bytes per latency).
        maxN: kind === 'latency' ? 40_000 : 5e6,
        async teardown() {
          for (const q of ctl) q.putSync({ stop: true });
          await started; // every actor finished: the sources' loops returned, the rest shut down
          for (const q of [...ctl, expect, done, ...(ack ? [ack] : [])]) {
            q.close();
            unlinkName(q.name);
          }
        },
      };
    });
}

module.exports = { actorPipeline, hasRelay };
