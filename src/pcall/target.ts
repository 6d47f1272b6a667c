/**
 * How a pcall target crosses into the child. Node cannot fork a live heap (SEMANTICS.md §1.5),
 * so a target is either
 * - a function, shipped as its source text (`Function.prototype.toString`) and compiled again in
 *   the child: it sees only its parameters, globals and `require` (resolved from the child's cwd),
 *   never the variables of the scope it was written in (closures are not supported, and a
 *   ReferenceError says so); or
 * - a module reference `{ module, export }`, loaded in the child with `require` or `import()`:
 *   full fidelity, closures and all; or
 * - a method target `{ object, method }` (the seed's `pcall(device.execute, ...)`): `object` is
 *   a handle - an instance of a registered Lockable subclass - rebuilt in the child (after loading
 *   the module that registers its class), and its method is called with `this` = that instance.
 *
 * {@link validateTarget} and {@link targetSpecOf} run in the parent; {@link loadTarget} and
 * {@link explainTargetError} in the child. {@link importModule} runs in both (the parent loads a
 * module target's exports to find custom error classes).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodeHandles, type HandleEnvelope } from './handle-codec';
import { isLocked } from '../lockable/wrap';
import { rejectUnknownOptions, typeError, validateObject, valueError } from '../validate';

/** A target named by module: `export` defaults to the module itself if callable, else `default`. */
export interface ModuleTarget {
  /** Absolute or relative (to the parent's cwd) path, file URL, or package name. */
  readonly module: string | URL;
  /** Name of the exported function. */
  readonly export?: string;
}

/**
 * A method of an object, called in the child on a rebuilt copy of the object: `object` must be a
 * handle (an instance of a registered Lockable subclass, typically), `method` the method's name.
 */
export interface MethodTarget {
  readonly object: object;
  readonly method: string;
}

/** What a pcall call runs: a self-contained function, a module reference, or a method target. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Target = ((...args: any[]) => unknown) | ModuleTarget | MethodTarget;

/** A target in the form that is sent to the child. */
export type TargetSpec =
  | { readonly kind: 'source'; readonly source: string; readonly name: string }
  | { readonly kind: 'module'; readonly module: string; readonly export?: string }
  | {
      readonly kind: 'method';
      /** The object, as a handle envelope (handle-codec.ts). */
      readonly object: HandleEnvelope;
      readonly method: string;
      /** Registered Lockable class name the object must be rebuilt as (undefined: any). */
      readonly className: string | undefined;
    };

/**
 * Parent: how a function that needs `this` can be recognised (a method of a registered Lockable
 * class, or any locking wrapper). Installed by pcall.ts, which knows the Lockable registry.
 */
let methodOwnerOf: (fn: unknown) => string | undefined = () => undefined;
export function setMethodOwnerLookup(lookup: (fn: unknown) => string | undefined): void {
  methodOwnerOf = lookup;
}

/** Parent: checks that `value` is a function or a well-formed module reference. */
export function validateTarget(name: string, value: unknown): asserts value is Target {
  if (typeof value === 'function') return;
  const expected = 'a function, a module reference { module, export } or a method target { object, method }';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeError(name, expected, value);
  const ref = value as Record<string, unknown>;
  validateObject(name, ref);
  if ('object' in ref || 'method' in ref) {
    rejectUnknownOptions(name, ref, ['object', 'method'], { instance: 'object', self: 'object', name: 'method' });
    if (typeof ref.object !== 'object' || ref.object === null)
      throw typeError(`${name}.object`, 'an object (a registered Lockable subclass instance)', ref.object);
    if (typeof ref.method !== 'string' || ref.method === '')
      throw typeError(`${name}.method`, 'a method name', ref.method);
    return;
  }
  rejectUnknownOptions(name, ref, ['module', 'export'], { exports: 'export', path: 'module', name: 'export' });
  if (!(ref.module instanceof URL) && (typeof ref.module !== 'string' || ref.module === '')) {
    throw typeError(`${name}.module`, 'a non-empty string or a URL', ref.module);
  }
  if (ref.export !== undefined && typeof ref.export !== 'string')
    throw typeError(`${name}.export`, 'a string', ref.export);
}

function resolveModule(spec: string | URL): string {
  if (spec instanceof URL) return spec.protocol === 'file:' ? fileURLToPath(spec) : spec.href;
  if (spec.startsWith('file:')) return fileURLToPath(spec);
  if (path.isAbsolute(spec)) return spec;
  if (spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..') return path.resolve(spec);
  try {
    // A package name: resolve it where the caller runs, not where shmsync is installed.
    return require.resolve(spec, { paths: [process.cwd()] });
  } catch {
    return spec; // an ESM-only package or a builtin: the child resolves it by name
  }
}

/** Parent: the wire form of a validated target. Throws TypeError for a function without source. */
export function targetSpecOf(name: string, target: Target): TargetSpec {
  if (typeof target !== 'function' && 'object' in target) return methodSpecOf(name, target);
  if (typeof target !== 'function') {
    return {
      kind: 'module',
      module: resolveModule(target.module),
      ...(target.export === undefined ? {} : { export: target.export }),
    };
  }
  const owner = methodOwnerOf(target) ?? (isLocked(target) ? 'a class (a locking wrapper)' : undefined);
  if (owner !== undefined) {
    // Shipped as source it would run without `this` (or, for a locking wrapper, without the
    // wrapper's closure): say how to call a method instead.
    const method = target.name || 'method';
    throw typeError(
      name,
      `a function that does not need \`this\`; ${target.name || 'this'} is a method of ${owner}. ` +
        `Pass a method target { object: instance, method: '${method}' } (the object must be an instance of a ` +
        'registered Lockable subclass), or a module reference',
      target,
    );
  }
  const source = Function.prototype.toString.call(target);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw typeError(
      name,
      'a function with source text (not bound or native); use a module reference { module, export } instead',
      target,
    );
  }
  if (/^class\b/.test(source)) throw typeError(name, 'a function, not a class', target);
  return { kind: 'source', source, name: target.name || 'anonymous' };
}

/**
 * Either process: whether `fn`, found as `object[name]`, is a method a method target may call:
 * a function other than the class itself (`constructor`) or a member of Object.prototype that
 * the class does not override (`__proto__`, `__defineSetter__`, `hasOwnProperty`...).
 */
export function isCallableMethod(name: string, fn: unknown): boolean {
  if (typeof fn !== 'function' || name === 'constructor') return false;
  return (
    !Object.prototype.hasOwnProperty.call(Object.prototype, name) ||
    fn !== (Object.prototype as unknown as Record<string, unknown>)[name]
  );
}

function methodSpecOf(name: string, target: MethodTarget): TargetSpec {
  const envelope = encodeHandles(target.object);
  const root = envelope.handles.find((h) => h.at.some((p) => p.length === 0));
  if (root === undefined) {
    throw typeError(
      `${name}.object`,
      'a shmsync handle, such as an instance of a registered Lockable subclass (its copy is rebuilt in the child)',
      target.object,
    );
  }
  const method = (target.object as Record<string, unknown>)[target.method];
  if (!isCallableMethod(target.method, method)) {
    throw valueError(
      `${name}.method`,
      `the name of a method of the object (${target.object.constructor?.name ?? 'object'})`,
      target.method,
    );
  }
  const ref = root.ref.value as { $shmsync?: unknown; class?: unknown };
  const className = ref.$shmsync === 'Lockable' && typeof ref.class === 'string' ? ref.class : undefined;
  return { kind: 'method', object: envelope, method: target.method, className };
}

/** Human-readable name of a target, for messages. */
export function targetLabel(spec: TargetSpec): string {
  if (spec.kind === 'method') return `method ${spec.className ?? 'Lockable'}.${spec.method}`;
  return spec.kind === 'source' ? `function ${spec.name}` : `${spec.module}#${spec.export ?? 'default'}`;
}

// `import()` written literally would be compiled to require() by tsc (module: commonjs).

const dynamicImport = new Function('specifier', 'return import(specifier)') as (
  s: string,
) => Promise<Record<string, unknown>>;

/** Either process: loads a module by resolved path, URL or package name (require, else import()). */
export async function importModule(specifier: string): Promise<Record<string, unknown>> {
  const isUrl = /^[a-z][a-z0-9+.-]+:/i.test(specifier) && !specifier.startsWith('node:');
  if (isUrl) return dynamicImport(specifier);
  const req = path.isAbsolute(specifier) ? require : createRequire(path.join(process.cwd(), '[pcall]'));
  try {
    return req(specifier) as Record<string, unknown>;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ERR_REQUIRE_ESM') throw err;
    return dynamicImport(path.isAbsolute(specifier) ? pathToFileURL(specifier).href : specifier);
  }
}

/** A target ready to call in the child. */
export interface LoadedTarget {
  readonly fn: (...args: unknown[]) => unknown;
  /** `this` for the call: the module's exports for module targets. */
  readonly thisArg: unknown;
  /** For source targets: the sourceURL its stack frames carry. */
  readonly sourceUrl?: string;
}

function compileSource(source: string, name: string): LoadedTarget {
  const sourceUrl = `shmsync-pcall-target:${name.replace(/[^\w$.-]/g, '_')}`;
  const req = createRequire(path.join(process.cwd(), '[pcall-target]'));
  const trailer = `\n//# sourceURL=${sourceUrl}`;
  let factory: (r: NodeRequire) => unknown;
  try {
    factory = new Function('require', `return (${source}\n);${trailer}`) as typeof factory;
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    try {
      // Method shorthand (`name(a) { ... }`) is not an expression on its own; wrap it in an object.

      factory = new Function(
        'require',
        `const o = ({ ${source}\n});\nreturn o[Reflect.ownKeys(o)[0]];${trailer}`,
      ) as typeof factory;
    } catch {
      throw new SyntaxError(`pcall target ${name}: its source text does not compile in the child: ${err.message}`);
    }
  }
  return { fn: factory(req) as LoadedTarget['fn'], thisArg: undefined, sourceUrl };
}

function cacheKey(spec: Exclude<TargetSpec, { kind: 'method' }>): string {
  return spec.kind === 'source' ? `source:${spec.source}` : `module:${spec.module}#${spec.export ?? ''}`;
}

/**
 * Child: a target without waiting - from the cache, or a source target compiled now; undefined
 * when a module must be loaded first (loadTarget). A pool child's hot path (no promise per call).
 */
export function loadTargetSync(
  spec: Exclude<TargetSpec, { kind: 'method' }>,
  cache: Map<string, LoadedTarget>,
): LoadedTarget | undefined {
  const key = cacheKey(spec);
  const hit = cache.get(key);
  if (hit !== undefined || spec.kind !== 'source') return hit;
  const loaded = compileSource(spec.source, spec.name);
  cache.set(key, loaded);
  return loaded;
}

/**
 * Child: compiles or loads a target. `cache` is per child; a warm pool child keeps it across
 * calls so a module or source text is loaded once.
 */
export async function loadTarget(
  spec: Exclude<TargetSpec, { kind: 'method' }>,
  cache: Map<string, LoadedTarget>,
): Promise<LoadedTarget> {
  const hit = loadTargetSync(spec, cache);
  if (hit) return hit;
  const key = cacheKey(spec);
  let loaded: LoadedTarget;
  if (spec.kind === 'source') {
    loaded = compileSource(spec.source, spec.name);
  } else {
    const mod = await importModule(spec.module);
    const picked = spec.export !== undefined ? mod?.[spec.export] : typeof mod === 'function' ? mod : mod?.default;
    if (typeof picked !== 'function') {
      throw new TypeError(
        `pcall target ${targetLabel(spec)} is not a function (it is ${picked === null ? 'null' : typeof picked})`,
      );
    }
    loaded = { fn: picked as LoadedTarget['fn'], thisArg: mod };
  }
  cache.set(key, loaded);
  return loaded;
}

/**
 * Child: a ReferenceError raised in a source target's own code means it used a variable of the
 * scope it was written in. Replace it with an error that says so and names the identifier.
 */
export function explainTargetError(err: unknown, target: LoadedTarget, spec: TargetSpec): unknown {
  try {
    return explainReferenceError(err, target, spec);
  } catch {
    // A thrown Proxy whose traps throw (instanceof, .message): reported as it is; never let
    // the explanation itself throw in the child (a WorkerThread crashed on it).
    return err;
  }
}

function explainReferenceError(err: unknown, target: LoadedTarget, spec: TargetSpec): unknown {
  if (target.sourceUrl === undefined || !(err instanceof ReferenceError)) return err;
  const match = /^(.+) is not defined$/.exec(err.message);
  const frames = String(err.stack)
    .split('\n')
    .filter((line) => /^\s+at /.test(line));
  if (!match || !frames[0]?.includes(target.sourceUrl)) return err;
  const identifier = match[1];
  const explained = new ReferenceError(
    `pcall target ${targetLabel(spec)} uses '${identifier}', which is not defined in the child: function ` +
      'targets are shipped as source text, so closures are not supported. Pass the value as an ' +
      'argument, require() it inside the function, or use a module reference target { module, export }',
  );
  Object.defineProperty(explained, 'identifier', { value: identifier, enumerable: true });
  explained.stack = [`ReferenceError: ${explained.message}`, ...frames].join('\n');
  return explained;
}
