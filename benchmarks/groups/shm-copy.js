'use strict';
// Moving 64 bytes in and out of a shared-memory segment vs between two ordinary Buffers.
const { defineGroup } = require('../lib/group');
const { op } = require('../lib/competitor');
const { shmsync } = require('../lib/shmsync');
const { buffer64 } = require('../lib/payloads');

const kSize = 4096;

function withSegment(body) {
  return () => {
    const { SharedMemory } = shmsync();
    const shm = new SharedMemory(undefined, { size: kSize });
    return {
      run: body(shm),
      teardown() {
        shm.close();
        shm.unlink();
      },
    };
  };
}

// The two set+subarray rows write the same body twice on purpose: closures made from one
// function literal share V8 type feedback, which would couple the two measurements.

module.exports = defineGroup({
  name: 'shm-copy',
  title: 'Copy 64 B into shared memory and back',
  metric: 'time',
  unit: 'write+read',
  notes: 'One op = write 64 B at offset 0, then read 64 B back into another buffer.',
  competitors: [
    {
      name: 'SharedMemory.buffer set+subarray',
      side: 'shmsync',
      setup: withSegment((shm) => {
        const buf = shm.buffer;
        const src = buffer64();
        const dst = Buffer.alloc(64);
        return op(() => {
          buf.set(src, 0);
          dst.set(buf.subarray(0, 64));
          return dst;
        });
      }),
    },
    {
      name: 'SharedMemory.write()+read()',
      side: 'shmsync',
      setup: withSegment((shm) => {
        const src = buffer64();
        return op(() => {
          shm.write(src, 0);
          return shm.read(0, 64);
        });
      }),
    },
    {
      name: 'Buffer.copy between ordinary Buffers',
      side: 'peer',
      vs: ['SharedMemory.buffer set+subarray', 'SharedMemory.write()+read()'],
      setup() {
        const src = buffer64();
        const region = Buffer.alloc(kSize);
        const dst = Buffer.alloc(64);
        return {
          run: op(() => {
            src.copy(region, 0);
            region.copy(dst, 0, 0, 64);
            return dst;
          }),
        };
      },
    },
    {
      name: 'same set+subarray on an ordinary Uint8Array',
      side: 'peer',
      setup() {
        const buf = new Uint8Array(kSize);
        const src = buffer64();
        const dst = Buffer.alloc(64);
        return {
          run: op(() => {
            buf.set(src, 0);
            dst.set(buf.subarray(0, 64));
            return dst;
          }),
        };
      },
    },
  ],
});
