/**
 * Builds the per-call work list of a pcall from its targets and options, exactly as pyATS
 * `Pcall.__init__` does (SEMANTICS.md §1.2, Decisions 1–3). Pure: runs in the parent, starts
 * nothing.
 *
 * - call i gets `target_i(...cargs, ...iargs[i])`, plus one trailing keyword object
 *   `{ ...ckwargs, ...ikwargs[i], ...varkwargs_i }` when any of ckwargs / ikwargs / varkwargs
 *   is given (precedence ckwargs < ikwargs < varkwargs);
 * - per-call dimensions: a list of 2+ targets, `iargs`, `ikwargs`, each varkwarg. They are zipped
 *   like Python's `zip`: the shortest wins, mismatched lengths never throw, iterables and
 *   generators are pulled lazily (never `.length`);
 * - a single target (or a list of one) is broadcast to every call; no dimension at all is a
 *   RangeError rather than a silent zero-call run.
 */
import { rangeError, typeError } from '../validate';
import { validateTarget, type Target } from './target';

/** Option names that build arguments (every other non-reserved key is a varkwarg). */
export const kArgumentOptionNames = ['cargs', 'iargs', 'ckwargs', 'ikwargs', 'varkwargs'] as const;

/** One call of a pcall: which target, with which arguments. */
export interface CallSpec {
  /** Position of the call and of its result. */
  readonly index: number;
  readonly target: Target;
  readonly args: readonly unknown[];
}

// Likely misspellings of pcall options, named when such a key cannot be a varkwarg.
const kHints: Record<string, string> = {
  timout: 'timeout',
  timeOut: 'timeout',
  timeoutMs: 'timeout',
  logdir: 'logDir',
  logDirectory: 'logDir',
  execargv: 'execArgv',
  cArgs: 'cargs',
  iArgs: 'iargs',
  cKwargs: 'ckwargs',
  iKwargs: 'ikwargs',
  kwargs: 'ckwargs',
  args: 'cargs',
  varKwargs: 'varkwargs',
};

function isIterableObject(value: unknown): value is Iterable<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function'
  );
}

function iteratorOf(name: string, value: unknown, expected: string): Iterator<unknown> {
  if (!isIterableObject(value)) throw typeError(name, expected, value);
  return value[Symbol.iterator]();
}

/** A zipped dimension: pulls one value per call and checks it. */
interface Dimension {
  readonly iterator: Iterator<unknown>;
  readonly accept: (value: unknown, index: number) => void;
}

/**
 * The targets argument as a dimension, or the one broadcast target. A list is peeked at (two
 * items at most) to tell "list of one" from "list of several" without consuming it eagerly.
 */
function targetsDimension(targets: unknown): { single?: Target; dimension?: Iterator<unknown> } {
  if (
    typeof targets === 'function' ||
    (!isIterableObject(targets) && typeof targets === 'object' && targets !== null)
  ) {
    validateTarget('targets', targets);
    return { single: targets };
  }
  const expected = 'a function, a module reference { module, export } or a list of them';
  const it = iteratorOf('targets', targets, expected);
  const first = it.next();
  if (first.done) throw rangeError('targets', `${expected}, not an empty list`, targets);
  const second = it.next();
  if (second.done) {
    validateTarget('targets[0]', first.value);
    return { single: first.value };
  }
  const peeked = [first.value, second.value];
  const dimension: Iterator<unknown> = {
    next: () => (peeked.length > 0 ? { done: false, value: peeked.shift() } : it.next()),
    return: (v?: unknown) => it.return?.(v) ?? { done: true, value: v },
  };
  return { dimension };
}

/**
 * A keyword-argument mapping as a plain object: a plain object is returned as is; a `Map` (the
 * seed accepts any mapping) is copied, its keys must be strings (keyword names). Anything else
 * is a TypeError.
 */
export function kwargsObject(name: string, value: unknown): Record<string, unknown> {
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of value) {
      if (typeof key !== 'string') throw typeError(`${name} keys`, 'strings (keyword names)', key);
      // defineProperty: a key such as '__proto__' stays an own keyword, never a prototype.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(name, 'an object or a Map with string keys', value);
  }
  return value as Record<string, unknown>;
}

function spreadable(name: string, value: unknown): unknown[] {
  if (!isIterableObject(value) || typeof value === 'string') {
    throw typeError(name, 'an iterable of arguments (an array)', value);
  }
  return [...value];
}

/**
 * Builds the calls. `options` is the pcall options object; keys in `reserved` (run options such
 * as `timeout`) are skipped, the argument options are read, every other key is a varkwarg.
 * Throws TypeError / RangeError (src/validate.ts template) for malformed input.
 */
export function zipArgs(targets: unknown, options: Record<string, unknown>, reserved: ReadonlySet<string>): CallSpec[] {
  const { single, dimension: targetDim } = targetsDimension(targets);
  const cargs = options.cargs === undefined ? [] : spreadable('options.cargs', options.cargs);
  const ckwargs = options.ckwargs === undefined ? undefined : kwargsObject('options.ckwargs', options.ckwargs);

  const varkwargs = new Map<string, unknown>();
  if (options.varkwargs !== undefined) {
    for (const [key, value] of Object.entries(kwargsObject('options.varkwargs', options.varkwargs)))
      varkwargs.set(key, value);
  }
  for (const [key, value] of Object.entries(options)) {
    if (reserved.has(key) || (kArgumentOptionNames as readonly string[]).includes(key)) continue;
    if (varkwargs.has(key))
      throw typeError(`options.${key}`, 'given once (it is also a key of options.varkwargs)', value);
    varkwargs.set(key, value);
  }

  // Per-call state filled by the dimensions, in zip order: targets, iargs, ikwargs, varkwargs.
  let target: Target | undefined = single;
  let iargs: unknown[] = [];
  let ikwargs: Record<string, unknown> = {};
  const varValues: Record<string, unknown> = {};
  const dims: Dimension[] = [];
  if (targetDim) {
    dims.push({
      iterator: targetDim,
      accept: (v, i) => {
        validateTarget(`targets[${i}]`, v);
        target = v;
      },
    });
  }
  if (options.iargs !== undefined) {
    dims.push({
      iterator: iteratorOf('options.iargs', options.iargs, 'an iterable of argument lists'),
      accept: (v, i) => {
        iargs = spreadable(`options.iargs[${i}]`, v);
      },
    });
  }
  if (options.ikwargs !== undefined) {
    dims.push({
      iterator: iteratorOf('options.ikwargs', options.ikwargs, 'an iterable of keyword-argument objects'),
      accept: (v, i) => {
        ikwargs = kwargsObject(`options.ikwargs[${i}]`, v);
      },
    });
  }
  for (const [key, value] of varkwargs) {
    const hint = kHints[key] ? ` (did you mean options.${kHints[key]}?)` : '';
    const expected = `an iterable of per-call values, as every option that is not a pcall option is a keyword argument${hint}`;
    if (typeof value === 'string') throw typeError(`options.${key}`, expected, value);
    dims.push({
      iterator: iteratorOf(`options.${key}`, value, expected),
      accept: (v) => {
        varValues[key] = v;
      },
    });
  }
  if (dims.length === 0) {
    throw rangeError(
      'the number of calls',
      'set by a list of two or more targets, options.iargs, options.ikwargs or a keyword argument with per-call values',
      targets,
    );
  }

  const withKwargs = ckwargs !== undefined || options.ikwargs !== undefined || varkwargs.size > 0;
  const calls: CallSpec[] = [];
  for (let index = 0; ; index += 1) {
    let exhausted = -1;
    for (let d = 0; d < dims.length; d += 1) {
      const step = dims[d].iterator.next();
      if (step.done) {
        exhausted = d;
        break;
      }
      dims[d].accept(step.value, index);
    }
    if (exhausted >= 0) {
      // Like CPython's zip, stop at the first exhausted input; close the generators left open.
      for (let d = 0; d < dims.length; d += 1) if (d !== exhausted) dims[d].iterator.return?.();
      break;
    }
    const args = [...cargs, ...iargs];
    if (withKwargs) args.push({ ...ckwargs, ...ikwargs, ...varValues });
    calls.push({ index, target: target as Target, args });
  }
  return calls;
}
