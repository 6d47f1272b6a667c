// Child process of the Mutex section (mutex.js): increments the shared counter under the Mutex.
// Protocol over IPC (advanced serialization):
//   parent -> { type: 'setup', mutex, shm, index, iterations, holdAt }   (handle references;
//             the victim gets iterations -1 and the counter value at which to stop, holdAt)
//   child  -> { type: 'ready' }
//   parent -> { type: 'go' }
//   survivor -> { type: 'done', recoveredAt }   then it closes its handles and disconnects
//   victim   -> { type: 'holding', value }      holding the lock, waiting to be SIGKILLed
//
// Segment (Int32 words): 0 the counter, read and written with plain loads and stores (no
// Atomics: only the lock keeps increments from being lost); 1 + index: this worker's completed
// increments, published before every release, so whoever reads it after our death knows exactly
// how many of our increments reached the counter.
'use strict';
const { reviveHandle } = require('../../dist');

let mutex = null;
let shm = null;
let setup = null;

function run() {
  const { index, iterations, holdAt } = setup;
  const bytes = shm.buffer;
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, 1 + 4);
  let recoveredAt = null;
  // Emitted synchronously inside the acquireSync() that took the lock from a dead holder.
  mutex.on('ownerDied', () => {
    recoveredAt = process.hrtime.bigint();
  });

  for (let done = 0; iterations < 0 || done < iterations; done++) {
    // the victim: no limit
    mutex.acquireSync();
    const value = words[0];
    if (holdAt >= 0 && value >= holdAt) {
      // The victim stops here, mid-increment and holding the lock: the parent kills it now.
      process.send({ type: 'holding', value });
      return;
    }
    words[0] = value + 1;
    Atomics.store(words, 1 + index, done + 1); // progress first, then release
    mutex.release();
  }
  mutex.removeAllListeners('ownerDied');
  mutex.close();
  shm.close();
  process.send({ type: 'done', recoveredAt }, () => process.disconnect());
}

process.on('message', (m) => {
  if (m.type === 'setup') {
    setup = m;
    mutex = reviveHandle(m.mutex);
    shm = reviveHandle(m.shm);
    process.send({ type: 'ready' });
  } else if (m.type === 'go') {
    run();
  }
});
