/**
 * Worker side of a pool chunk: runs in a pcall pool child (worker thread or child process), loaded
 * as a module target by remote.ts. One call = one chunk: the task function applied to every item
 * (or once to the list), results returned in order.
 *
 * A failure of the task function does not throw: the results computed before it and the error
 * (flattened by pcall's error codec, remote stack included) come back together, so the parent
 * writes exactly the items that were produced before the failure (the seed wrote per item).
 */
import { serializeError, type SerializedError } from '../pcall/error-codec';
import { explainTargetError, loadTarget, loadTargetSync, type LoadedTarget, type TargetSpec } from '../pcall/target';

/** What one chunk returns to the parent. */
export interface ChunkOutcome {
  readonly results: unknown[];
  readonly error?: SerializedError;
}

type FnSpec = Exclude<TargetSpec, { kind: 'method' }>;

/** Loaded task functions of this child, by source text / module (kept across chunks). */
const cache = new Map<string, LoadedTarget>();

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Child: applies the task function `spec` to `items`; see the file comment. */
export async function runChunk(spec: FnSpec, applySingle: boolean, items: unknown[]): Promise<ChunkOutcome> {
  const target = loadTargetSync(spec, cache) ?? (await loadTarget(spec, cache));
  const results: unknown[] = [];
  try {
    if (applySingle) {
      for (const item of items) {
        const r = target.fn.call(target.thisArg, item);
        results.push(isThenable(r) ? await r : r);
      }
    } else {
      let r = target.fn.call(target.thisArg, items);
      if (isThenable(r)) r = await r;
      if (r === null || typeof (r as Iterable<unknown>)[Symbol.iterator] !== 'function') {
        throw new TypeError('a task function with applySingle: false must return an iterable');
      }
      for (const v of r as Iterable<unknown>) results.push(v);
    }
  } catch (err) {
    return { results, error: serializeError(explainTargetError(err, target, spec)) };
  }
  return { results };
}
