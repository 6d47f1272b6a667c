'use strict';
// A competitor measured in a child process of its own (children/isolated.js), for operations
// whose cost depends on process-wide state another competitor could switch on - e.g. the first
// AsyncLocalStorage.run() enables promise hooks that slow every later Promise in the process,
// so a bare async method must not be measured in a process where shmsync's lock scopes ran.
//
//   setup: isolated(require.resolve('../children/lockable-bodies'), 'bareAsync')
//
// The export is called in the child with ctx and returns { run, teardown } like a setup().
// Latency results are not supported (time and throughput groups only); `extra` figures are.
// `execPath` runs the child under another Node binary (the await-after-lock group).
const { forkChild } = require('./child');

function isolated(file, name, { execPath } = {}) {
  return async (ctx) => {
    const child = await forkChild('isolated.js', { cpu: ctx.pin ? 1 : undefined, execPath });
    try {
      const { tmpdir, quick, pin, group, sampleTimeMs, samples } = ctx;
      await child.call('setup', { file, name, ctx: { tmpdir, quick, pin, group, sampleTimeMs, samples } });
    } catch (err) {
      // A clean exit runs the child's exit hooks (lib/shm-names.js unlinks what it created).
      await child.close().catch(() => child.kill());
      throw err;
    }
    return {
      run: (n) => child.call('run', { n }),
      async teardown() {
        try {
          await child.call('teardown');
        } finally {
          await child.close();
        }
      },
    };
  };
}

module.exports = { isolated };
