/**
 * How a thread function travels into its worker: exactly as a pcall target (src/pcall/target.ts),
 * a function shipped as source text or a module reference `{ module, export }`. Method targets
 * (`{ object, method }`) are pcall's alone. Parent thread only.
 */
import { targetSpecOf, validateTarget, type ModuleTarget } from '../pcall/target';
import { typeError } from '../validate';
import type { ThreadTargetSpec } from './protocol';

/** A thread function: `(arg, ctx) => result`, or a module reference to one. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ThreadTarget = ((arg: any, ctx: import('./context').ThreadContext) => unknown) | ModuleTarget;

/** Specs by target identity: a function's source is read and checked once. */
const specs = new WeakMap<object, ThreadTargetSpec>();

/** The wire form of `target` (validated; cached per function / reference object). */
export function threadSpecOf(name: string, target: unknown): ThreadTargetSpec {
  if ((typeof target === 'function' || (typeof target === 'object' && target !== null)) && specs.has(target)) {
    return specs.get(target) as ThreadTargetSpec;
  }
  validateTarget(name, target);
  if (typeof target === 'object' && 'object' in target) {
    throw typeError(name, 'a function or a module reference { module, export } (method targets are for pcall)', target);
  }
  const spec = targetSpecOf(name, target) as ThreadTargetSpec;
  specs.set(target, spec);
  return spec;
}
