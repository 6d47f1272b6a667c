// ktz's relay demo in shmsync: 3 producers → 10 "prep" workers → 5 "post" workers → 1 consumer,
// every actor a child process (or a worker thread with --threads), one shared-memory queue
// between consecutive groups bounded to 50 messages, and a Handler in this process aggregating
// the results the consumer hands it.
//
//   npm run build:ts
//   node examples/actor-pipeline/main.js [messages per producer, default 1000] [--threads]
'use strict';
const path = require('node:path');
const { ActorRef, Handler, Relay } = require('../../dist');

const args = process.argv.slice(2);
const mode = args.includes('--threads') ? 'thread' : 'process';
const perProducer = Number(args.find((a) => !a.startsWith('--')) ?? 1000);
if (!Number.isInteger(perProducer) || perProducer < 1) {
  console.error('usage: node main.js [messages per producer] [--threads]');
  process.exit(2);
}

const actors = path.join(__dirname, 'actors.js');
const ref = (exportName, n, args = []) =>
  Array.from({ length: n }, () => new ActorRef({ module: actors, export: exportName, args, mode }));

/** Runs in this process while the relay runs: reads every result until the consumer's eol. */
class Aggregator extends Handler {
  count = 0;
  sum = 0;
  seen = new Set();
  duplicates = 0;
  usedBy = { prep: new Set(), post: new Set() };

  async run() {
    for await (const item of this.q) {
      const key = `${item.producer}/${item.i}`;
      if (this.seen.has(key)) this.duplicates++;
      this.seen.add(key);
      this.count++;
      this.sum += item.z;
      this.usedBy.prep.add(item.prep);
      this.usedBy.post.add(item.post);
    }
  }
}

async function main() {
  const t0 = Date.now();
  const handler = new Aggregator();
  const relay = new Relay({ maxsize: 50, log: 'actor-pipeline' });
  relay.connect({
    named: {
      prod: ref('Producer', 3, [perProducer]),
      prep: ref('Square', 10),
      post: ref('AddOne', 5),
      cons: ref('Consumer', 1, [handler.q]),
    },
  });
  const total = relay.groups.reduce((n, [, g]) => n + g.length, 0);
  console.log(
    `relay: ${relay.groups.map(([name, g]) => `${name} ${g.length}`).join(' → ')} (${total} actors in ${mode === 'thread' ? 'worker threads' : 'child processes'}), maxsize 50`,
  );
  await relay.start(handler);

  const expected = 3 * perProducer;
  // Σ (i² + 1) for i < n, per producer: n(n-1)(2n-1)/6 + n.
  const n = perProducer;
  const expectedSum = 3 * ((n * (n - 1) * (2 * n - 1)) / 6 + n);
  const exactlyOnce = handler.count === expected && handler.seen.size === expected && handler.duplicates === 0;
  console.log(`handled ${handler.count} of ${expected} messages, each exactly once: ${exactlyOnce ? 'yes' : 'NO'}`);
  console.log(`sum of x² + 1: ${handler.sum} (expected ${expectedSum})`);
  console.log(
    `prep actors used: ${handler.usedBy.prep.size} of 10, post actors used: ${handler.usedBy.post.size} of 5`,
  );
  console.log(`done in ${Date.now() - t0} ms`);
  if (!exactlyOnce || handler.sum !== expectedSum) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
