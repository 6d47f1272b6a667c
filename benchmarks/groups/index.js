'use strict';
// Every group, in the order a full run executes them. Add new groups here.
module.exports = [
  require('./napi-floor'),
  require('./shm-copy'),
  require('./lock-uncontended'),
  require('./lock-contended'),
  require('./lock-handoff'),
  require('./lock-owner-death'),
  require('./lockable-overhead'),
  require('./lockable-lifetime'),
  require('./await-after-lock'),
  require('./shared-value'),
  require('./ipc-throughput'),
  require('./ipc-rtt'),
  require('./pool-rtt'),
  require('./pcall-cold'),
  require('./pcall-result'),
  require('./web-locks'),
  require('./channel'), // issue 11: channel throughput in process and across processes/threads
];
