'use strict';
// The cost of crossing into the addon at all: every native shmsync call pays at least this.
const { defineGroup } = require('../lib/group');
const { op } = require('../lib/competitor');
const { binding } = require('../lib/shmsync');

function jsNoop() {}

module.exports = defineGroup({
  name: 'napi-floor',
  title: 'N-API call floor: one no-op call',
  metric: 'time',
  unit: 'call',
  notes:
    'binding.noop() is an empty native function; the JS function is inlined by V8, so the ratio shows what a native hop costs compared with staying in JS.',
  competitors: [
    {
      name: 'binding.noop() (N-API)',
      side: 'shmsync',
      setup: () => ({ run: op(binding().noop) }),
    },
    {
      name: 'plain JS function call',
      side: 'peer',
      run: op(jsNoop),
    },
  ],
});
