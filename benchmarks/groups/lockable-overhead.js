'use strict';
// What `@Lockable.locked` adds to a trivial method, uncontended, one process: the sync form
// (blocking acquire around the call) and the async form (Promise acquire, held until settled).
// Every row runs in a process of its own (lib/isolated.js, children/lockable-bodies.js).
const { defineGroup } = require('../lib/group');
const { isolated } = require('../lib/isolated');

const kBodies = require.resolve('../children/lockable-bodies');
const kSync = '@Lockable.locked sync method';
const kAsync = '@Lockable.locked async method';

module.exports = defineGroup({
  name: 'lockable-overhead',
  title: 'Locked method call vs bare method, uncontended',
  metric: 'time',
  unit: 'call',
  notes:
    'The method increments a field; `Class.prototype.m = Lockable.locked(Class.prototype.m)`. Each row runs in a process of its own: a locked method opens an AsyncLocalStorage scope, and the first one turns on promise hooks for the whole process (every later Promise pays), which the bare and async-mutex rows must not inherit; the last row shows that cost on a bare async method. V8 may inline the bare sync method, so that row is the floor.',
  competitors: [
    { name: kSync, side: 'shmsync', setup: isolated(kBodies, 'lockedSync') },
    { name: kAsync, side: 'shmsync', setup: isolated(kBodies, 'lockedAsync') },
    { name: 'bare sync method', side: 'peer', vs: kSync, setup: isolated(kBodies, 'bareSync') },
    { name: 'bare async method', side: 'peer', vs: kAsync, setup: isolated(kBodies, 'bareAsync') },
    {
      name: 'async-mutex runExclusive(body)',
      side: 'peer',
      vs: [kAsync, kSync],
      setup: isolated(kBodies, 'runExclusive'),
    },
    {
      name: 'bare async method, after a lock scope ran in the process',
      side: 'peer',
      vs: kAsync,
      setup: isolated(kBodies, 'bareAsyncAfterScope'),
    },
  ],
});
