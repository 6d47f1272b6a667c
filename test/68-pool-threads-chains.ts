// Pool with worker threads, size 4 (the seed's stress size: single task, then its dependent
// chains and two chained pools): every transformer and the order verifier running in worker
// threads, up to four chunks competing for one task's input.
import t from 'tap';
import { ThreadPool } from '../dist';
import { assertDependentTasks, assertSingleTask } from './helpers/pool';

delete process.env.NODE_OPTIONS; // tap's loader hooks would slow every worker's start

t.test('size 4: single task, dependent chains, two pools', async (t) => {
  const p = new ThreadPool(4);
  await t.test('size 4: single task', (t) => assertSingleTask(t, p, true));
  await t.test('size 4: dependent tasks, two pools', (t) => assertDependentTasks(t, p, new ThreadPool(0), true));
  await p.close();
});
