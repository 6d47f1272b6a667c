'use strict';
// A 10 MiB result coming back from a child process: MB/s from asking to having it.
const { defineGroup } = require('../lib/group');
const { forkChild } = require('../lib/child');
const { shmsync } = require('../lib/shmsync');

const kBytes = 10 * 1024 * 1024;

module.exports = defineGroup({
  name: 'pcall-result',
  title: 'A 10 MiB Buffer result back from a child process',
  metric: 'throughput',
  unit: '10 MiB result',
  bytesPerOp: kBytes,
  columns: { 'time/msg': 'time/result', 'samples × msgs': 'samples × results' },
  notes:
    "Both children keep one 10 MiB Buffer and send it on request (its allocation is not timed). shmsync: `pcall(() => globalThis.big ??= Buffer.alloc(10 MiB, 7), { iargs: [[]], pool })` on a warm 1-child ProcessPool (process mode), the result checked for length. Peer: the child process.send()s the Buffer over an IPC channel with serialization: 'advanced' (it arrives as a Buffer).",
  competitors: [
    {
      name: 'pcall result, warm ProcessPool (process mode)',
      side: 'shmsync',
      async setup() {
        const { ProcessPool, pcall } = shmsync();
        const pool = new ProcessPool({ size: 1 });
        try {
          const task = (bytes) => (globalThis.benchBig ??= Buffer.alloc(bytes, 7));
          const call = async () => {
            const [r] = await pcall(task, { iargs: [[kBytes]], pool });
            if (!r || r.length !== kBytes) throw new Error(`result of ${r && r.length} bytes, expected ${kBytes}`);
          };
          await call(); // the child allocates its Buffer
          return {
            async run(n) {
              for (let i = 0; i < n; i++) await call();
            },
            teardown: () => pool.close(),
          };
        } catch (err) {
          await pool.destroy();
          throw err;
        }
      },
    },
    {
      name: "child_process IPC, serialization 'advanced'",
      side: 'peer',
      async setup(ctx) {
        const child = await forkChild('big-peer.js', { serialization: 'advanced', cpu: ctx.pin ? 1 : undefined });
        const call = async () => {
          const arrived = new Promise((resolve) => (child.onData = resolve));
          const [buf] = await Promise.all([arrived, child.call('send', { bytes: kBytes })]);
          if (!Buffer.isBuffer(buf) || buf.length !== kBytes) throw new Error('the IPC peer sent something else');
        };
        try {
          await call();
        } catch (err) {
          await child.kill();
          throw err;
        }
        return {
          async run(n) {
            for (let i = 0; i < n; i++) await call();
          },
          teardown: () => child.close(),
        };
      },
    },
  ],
});
