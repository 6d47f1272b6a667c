// Demo section: an unnamed SharedMemory, handed to another process by reference.
'use strict';
const { SharedMemory } = require('../../dist');
const { say, startPeer } = require('./lib');

exports.title = 'Shared memory';

exports.run = async function run() {
  // No name: shmsync picks a unique one. The handle still crosses processes as a reference.
  const shm = new SharedMemory(undefined, { size: 256 });
  let peer = null;
  try {
    say('parent', `created an unnamed segment "${shm.name}" (${shm.size} bytes)`);
    peer = startPeer();
    const ref = JSON.parse(JSON.stringify(shm));
    say('parent', `forked peer ${peer.child.pid}, passing the handle ${JSON.stringify(ref)}`);
    const reply = await peer.request({ type: 'shared-memory:greet', ref });
    for (const note of reply.notes) say('peer', note);
    const length = shm.read(0, 4).readUInt32LE(0);
    if (length > shm.size - 4) throw new RangeError(`bad greeting length ${length}`);
    say('parent', `read it back: "${shm.read(4, length).toString('utf8')}"`);
    const { code, signal } = await peer.done();
    peer = null;
    if (code !== 0 || signal !== null) throw new Error(`peer exited with code ${code}, signal ${signal}`);
  } finally {
    if (peer !== null) {
      peer.child.kill('SIGKILL');
      await peer.done();
    }
    shm.close();
    if (shm.unlink()) say('parent', 'closed and unlinked the segment');
  }
};
