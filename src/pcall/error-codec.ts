/**
 * Errors across the process boundary. The child flattens what it caught into a structured-clone
 * safe record ({@link serializeError}, child side); the parent rebuilds an error of the same
 * class when it knows the class ({@link rebuildError}, parent side), chained to a
 * RemoteException holding the child's stack (SEMANTICS.md Decision 4).
 */
import { inspect } from 'node:util';
import { errorClassFor, ShmsyncError } from '../errors';
import { typeError, validateFunction } from '../validate';
import { RemoteException } from './errors';

/** A thrown value as it travels from child to parent. */
export type SerializedError =
  | {
      readonly kind: 'error';
      readonly name: string;
      readonly message: string;
      /** `constructor.name` in the child: the class the parent looks for. */
      readonly className: string;
      readonly code?: unknown;
      readonly stack: string;
      /** Own enumerable properties (values that cannot be cloned are replaced by their inspect text). */
      readonly props: Record<string, unknown>;
      readonly cause?: SerializedError;
    }
  | { readonly kind: 'value'; readonly value: unknown };

type ErrorCtor = abstract new (...args: never[]) => Error;

const kBrand = Symbol.for('shmsync.error');
const kMaxCauseDepth = 8;
const registered = new Map<string, ErrorCtor>();
const builtins: ReadonlyMap<string, ErrorCtor> = new Map<string, ErrorCtor>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
  ['AggregateError', AggregateError],
]);

/**
 * Registers a custom error class so errors of that class thrown in a child are rebuilt as
 * instances of it in the parent (matched by `cls.name`, the child's `constructor.name`).
 * Classes exported by a module-reference target are found without registration.
 */
export function registerErrorClass(cls: abstract new (...args: never[]) => Error): void {
  validateFunction('cls', cls);
  if (!(cls.prototype instanceof Error) && (cls as unknown) !== Error) {
    throw typeError('cls', 'a subclass of Error', cls);
  }
  registered.set(cls.name, cls);
}

function cloneable(value: unknown): unknown {
  try {
    structuredClone(value);
    return value;
  } catch {
    return inspect(value, { depth: 2 });
  }
}

/** `value[key]`, or undefined when reading it throws (a hostile getter or proxy). */
function safeRead(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `String(value)`, or `fallback` when that throws (a toString that throws, a Symbol-less object). */
function safeString(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  try {
    return String(value);
  } catch {
    return fallback;
  }
}

/** Child side: flattens a thrown value for the result message. Never throws. */
export function serializeError(thrown: unknown, depth = 0): SerializedError {
  try {
    return serializeFields(thrown, depth);
  } catch {
    // A proxy whose traps throw (instanceof, Object.keys): still a failure the parent sees.
    return { kind: 'value', value: '[an error object that could not be read]' };
  }
}

function serializeFields(thrown: unknown, depth: number): SerializedError {
  if (!(thrown instanceof Error)) return { kind: 'value', value: cloneable(thrown) };
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(thrown)) {
    if (key === 'cause' || key === 'stack' || key === 'message') continue;
    try {
      props[key] = cloneable((thrown as unknown as Record<string, unknown>)[key]);
    } catch {
      // A throwing getter: leave the property out.
    }
  }
  if (thrown instanceof AggregateError && !('errors' in props)) {
    props.errors = thrown.errors.map((e) => cloneable(e));
  }
  // Every field is read through safeRead: an error whose getters throw (a hostile or broken
  // error object) still serializes - the function said it never throws, and a chunk runner that
  // threw here lost the results computed before the failure.
  const code = safeRead(thrown, 'code');
  const cause = safeRead(thrown, 'cause');
  const name = safeString(safeRead(thrown, 'name'), 'Error');
  const message = safeString(safeRead(thrown, 'message'), '');
  const stack = safeRead(thrown, 'stack');
  return {
    kind: 'error',
    name,
    message,
    className: safeString(safeRead(safeRead(thrown, 'constructor'), 'name'), 'Error'),
    ...(code === undefined ? {} : { code: cloneable(code) }),
    stack: stack === undefined || stack === null ? `${name}: ${message}` : safeString(stack, `${name}: ${message}`),
    props,
    ...(cause === undefined || depth >= kMaxCauseDepth ? {} : { cause: serializeError(cause, depth + 1) }),
  };
}

/** Where the parent looks for a class: registered, shmsync's own, then the target module's exports. */
export interface ClassLookup {
  /** Exports of the module-reference target, when the failing call had one. */
  readonly moduleExports?: Record<string, unknown> | undefined;
  /** Pid (or thread id) of the child, for the RemoteException message. */
  readonly pid?: number | undefined;
}

function isErrorClass(value: unknown): value is ErrorCtor {
  return typeof value === 'function' && (value.prototype instanceof Error || value === Error);
}

function findClass(s: Extract<SerializedError, { kind: 'error' }>, lookup: ClassLookup): ErrorCtor {
  const fromRegistry = registered.get(s.className);
  if (fromRegistry) return fromRegistry;
  const exported = lookup.moduleExports;
  if (exported) {
    for (const value of Object.values(exported)) {
      if (isErrorClass(value) && value.name === s.className) return value;
    }
  }
  if (typeof s.code === 'string') {
    const own = errorClassFor(s.code);
    if (own && own.name === s.className) return own;
  }
  return builtins.get(s.className) ?? builtins.get(s.name) ?? Error;
}

function defineValue(target: object, key: PropertyKey, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true });
}

/**
 * Parent side: rebuilds a child's thrown value. An Error comes back as an instance of its class
 * when known (else a plain Error with the same `name`), with `message`, `code` and own
 * properties restored, and `cause` = RemoteException(child stack), whose own `cause` is the
 * rebuilt original cause if the child error had one. A non-Error thrown value comes back as is.
 */
export function rebuildError(s: SerializedError, lookup: ClassLookup = {}): unknown {
  if (s.kind === 'value') return s.value;
  const cls = findClass(s, lookup);
  // A genuine Error object (internal [[ErrorData]] slot) with the class's prototype, without
  // running the class constructor (custom constructors may need arguments we do not have).
  const err = Reflect.construct(Error, [s.message], cls as unknown as new () => Error) as Error;
  if (err.name !== s.name) defineValue(err, 'name', s.name, false);
  if (s.code !== undefined) defineValue(err, 'code', s.code, true);
  for (const [key, value] of Object.entries(s.props)) defineValue(err, key, value, true);
  if (err instanceof ShmsyncError || cls.prototype instanceof ShmsyncError) defineValue(err, kBrand, true, false);
  // Only the header line is local; the frames are in the RemoteException below.
  defineValue(err, 'stack', `${s.name}: ${s.message}\n    at <child ${lookup.pid ?? 'process'}> (see cause)`, false);
  const remoteCause = s.cause === undefined ? undefined : rebuildError(s.cause, lookup);
  const remote = new RemoteException(s.stack, { pid: lookup.pid, cause: remoteCause });
  defineValue(err, 'cause', remote, false);
  return err;
}

/** One-line description of a serialized error, for ChildProcessException messages. */
export function summarize(s: SerializedError): string {
  if (s.kind === 'value') return `threw ${inspect(s.value, { depth: 1, breakLength: Infinity })}`;
  return `${s.name}: ${s.message}`;
}
