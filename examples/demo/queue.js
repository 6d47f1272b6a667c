// Demo section: a producer process streams 64-byte raw messages through a ShmQueue to this
// process for 2 seconds (putManySync / getMany batches), with a live throughput figure. The
// producer ends the queue when its time is up; the consumer drains what is left and ends.
'use strict';
const { fork } = require('node:child_process');
const path = require('node:path');
const { ShmQueue, ReadOnly } = require('../../dist');
const { say } = require('./lib');

exports.title = 'ShmQueue: a producer process streams to this one (live throughput)';

const kDurationMs = 2000;
const kBatch = 256;
const kMessageBytes = 64;
const kReportEveryMs = 500;

exports.run = async function run() {
  // Unnamed: shmsync picks a unique name; the producer gets the handle as a reference.
  const q = new ShmQueue(undefined, { codec: 'raw', capacity: 1 << 20 });
  let child = null;
  try {
    const ref = JSON.stringify(q);
    say('parent', `created queue "${q.name}" (${q.capacity / 1024} KiB ring, raw codec)`);
    child = fork(
      path.join(__dirname, 'queue-producer.js'),
      [ref, String(kDurationMs), String(kBatch), String(kMessageBytes)],
      { execArgv: [] },
    );
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const messages = [];
    child.on('message', (m) => messages.push(m));
    const next = async (type) => {
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0];
        const outcome = await Promise.race([exited, new Promise((resolve) => child.once('message', resolve))]);
        if (outcome && outcome.code !== undefined && messages.every((m) => m.type !== type)) {
          throw new Error(`producer exited (code ${outcome.code}, signal ${outcome.signal}) before '${type}'`);
        }
      }
    };
    await next('ready');
    say(
      'parent',
      `producer ${child.pid} puts ${kMessageBytes}-byte messages in batches of ${kBatch} for ${kDurationMs / 1000} s`,
    );
    child.send({ type: 'go' });

    let received = 0;
    let outOfOrder = 0;
    const start = performance.now();
    let lastAt = start;
    let lastCount = 0;
    try {
      for (;;) {
        for (const m of await q.getMany(4096)) {
          if (m.length !== kMessageBytes || m.readBigUInt64LE(0) !== BigInt(received)) outOfOrder += 1;
          received += 1;
        }
        const now = performance.now();
        if (now - lastAt >= kReportEveryMs) {
          const rate = ((received - lastCount) * 1000) / (now - lastAt);
          say(
            'parent',
            `${((now - start) / 1000).toFixed(1)} s: ${Math.round(rate).toLocaleString('en')} msgs/s  (${received.toLocaleString('en')} received)`,
          );
          lastAt = now;
          lastCount = received;
        }
      }
    } catch (err) {
      if (!(err instanceof ReadOnly)) throw err; // ended by the producer and drained
    }
    const seconds = (performance.now() - start) / 1000;
    const { sent } = await next('done');
    const exit = await exited;
    child = null;
    if (exit.code !== 0 || exit.signal !== null)
      throw new Error(`producer exited with code ${exit.code}, signal ${exit.signal}`);
    if (received !== sent || outOfOrder !== 0)
      throw new Error(`sent ${sent}, received ${received}, ${outOfOrder} out of order`);
    const rate = received / seconds;
    say(
      'parent',
      `queue ended by the producer and drained: ${received.toLocaleString('en')} of ${sent.toLocaleString('en')} messages, all in order`,
    );
    say(
      'parent',
      `average ${Math.round(rate).toLocaleString('en')} msgs/s = ${((rate * kMessageBytes) / 1e6).toFixed(0)} MB/s of payload`,
    );
  } finally {
    if (child !== null) child.kill('SIGKILL');
    q.close();
    if (q.unlink()) say('parent', 'closed and unlinked the queue');
  }
};
