// close() unmaps at once, not when the garbage collector reaches the handle's ArrayBuffer: a
// synchronous loop of create / use / close used to keep every mapping until a major GC, and at
// vm.max_map_count (65530) V8 itself could no longer map memory and the process aborted.
import t from 'tap';
import * as fs from 'node:fs';
import { Mutex, SharedMemory, ShmQueue } from '../dist';

const mappings = (): number => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').length;

const kRounds = 1500;
const cases: Array<[string, () => void]> = [
  [
    'Mutex: acquireSync + release + close',
    () => {
      const m = new Mutex();
      m.acquireSync();
      m.release();
      m.close();
    },
  ],
  [
    'SharedMemory: buffer + close',
    () => {
      const s = new SharedMemory(undefined, { size: 64 });
      s.buffer[0] = 1;
      s.close();
    },
  ],
  [
    'ShmQueue: putSync + getSync + close',
    () => {
      const q = new ShmQueue(undefined, { capacity: 4096 });
      q.putSync('x');
      q.getSync();
      q.close();
    },
  ],
];

for (const [what, round] of cases) {
  t.test(what, async (t) => {
    round(); // warm: the first round maps the owner table and loads code
    const before = mappings();
    for (let i = 0; i < kRounds; i++) round();
    const grew = mappings() - before;
    t.ok(grew < 50, `${kRounds} rounds left ${grew} more mappings (each kept one until GC before)`);
  });
}
