'use strict';
// An atomic add on a shared int32: SharedValue (shared memory, any process) vs Atomics.add on a
// SharedArrayBuffer (threads of one process only).
const { defineGroup } = require('../lib/group');
const { op } = require('../lib/competitor');
const { shmsync } = require('../lib/shmsync');
const { benchName, unlinkName } = require('../lib/shm-names');

module.exports = defineGroup({
  name: 'shared-value',
  title: 'Atomic add on a shared int32',
  metric: 'time',
  unit: 'add',
  notes:
    'SharedValue.add(1) returns the new value (validated argument, Atomics.add on a view of the mapping); the peer is a bare Atomics.add(i32, 0, 1) on a SharedArrayBuffer.',
  competitors: [
    {
      name: "SharedValue.add(1), type 'int32'",
      side: 'shmsync',
      setup() {
        const { SharedValue } = shmsync();
        const name = benchName('value', 'value');
        let v;
        try {
          v = new SharedValue(name, { type: 'int32', create: 'create' });
        } catch (err) {
          unlinkName(name);
          throw err;
        }
        return {
          run: op(() => v.add(1)),
          teardown() {
            v.close();
            unlinkName(name);
          },
        };
      },
    },
    {
      name: 'Atomics.add on a SharedArrayBuffer Int32Array',
      side: 'peer',
      setup() {
        const i32 = new Int32Array(new SharedArrayBuffer(4));
        return { run: op(() => Atomics.add(i32, 0, 1)) };
      },
    },
  ],
});
