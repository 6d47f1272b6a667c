'use strict';
// Runs one competitor in a process of its own (lib/isolated.js is the parent side): 'setup'
// loads `file` and calls its export `name`(ctx) -> { run, teardown }; 'run' times run(n) here,
// so the IPC round trip that asked for it is not part of the figure.
const { serve } = require('../lib/serve');

let inst = null;

serve({
  commands: {
    async setup({ file, name, ctx }) {
      const make = require(file)[name];
      if (typeof make !== 'function') throw new Error(`${file} has no export ${name}`);
      inst = (await make(ctx)) ?? {};
      if (typeof inst.run !== 'function') throw new Error(`${name}() returned no run function`);
      return { ready: true };
    },
    async run({ n }) {
      const t0 = process.hrtime.bigint();
      let out = inst.run(n);
      if (out && typeof out.then === 'function') out = await out;
      const elapsedNs = Number(process.hrtime.bigint() - t0);
      const extra = out && typeof out.extra === 'object' ? out.extra : undefined;
      if (out && typeof out.elapsedNs === 'number') return { elapsedNs: out.elapsedNs, extra };
      return { elapsedNs, extra };
    },
    async teardown() {
      if (inst && inst.teardown) await inst.teardown();
      inst = null;
      return { done: true };
    },
  },
});
