/**
 * cpuCount() (seed `async.util.cpu_count`): how many threads can run in parallel here -
 * `os.availableParallelism()` (honours CPU affinity; Node >= 18.14), else the CPU list length.
 * Throws (as the seed's NotImplementedError) only if neither gives a positive number.
 */
import * as os from 'node:os';
import { ShmsyncError } from '../errors';

export function cpuCount(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  if (!Number.isInteger(n) || n < 1) throw new ShmsyncError('cannot determine the number of CPUs', 'SHMSYNC_SYSTEM');
  return n;
}
