/**
 * Parent side of pcall's support for Lockable subclasses (SEMANTICS.md §1.4, the seed's
 * `pcall(device.execute, ...)`): which modules a child must load so that the Lockable handles of
 * a call are rebuilt as their registered classes, and recognising a method passed as a plain
 * function target. Runs in the parent only (it loads the Lockable registry, hence the addon).
 */
import type { HandleEnvelope } from './handle-codec';
import { Lockable, lockableRegistration, registeredClasses } from '../lockable/lockable';
import { kLocked } from '../lockable/wrap';
import { valueError } from '../validate';

/**
 * The registering modules of every Lockable subclass instance among the handles of `envelopes`
 * (nested references included). Throws an argument error (`SHMSYNC_INVALID_ARG_VALUE`) for an
 * instance whose class is not registered, or whose registering module a child cannot load.
 */
export function registrationModules(label: string, envelopes: readonly HandleEnvelope[]): string[] {
  const modules = new Set<string>();
  const visit = (envelope: HandleEnvelope): void => {
    for (const entry of envelope.handles) {
      const ref = entry.ref.value as { $shmsync?: unknown; class?: unknown; name?: unknown };
      if (ref.$shmsync === 'Lockable' && typeof ref.class === 'string') {
        const reg = lockableRegistration(ref.class);
        if (reg === undefined) {
          throw valueError(
            label,
            `Lockable instances of registered classes: class ${ref.class} is not registered, so a child would get a ` +
              `plain Lockable without its methods. Call ${ref.class}.register() at the top level of the module that ` +
              'defines it (or pass instance.lock to share only the lock)',
            ref.class,
          );
        }
        if (reg.module === undefined) {
          throw valueError(
            label,
            `Lockable instances whose class a child can load: ${ref.class} cannot be rebuilt in a child because ` +
              `${reg.reason ?? 'its module is unknown'}. Define and register it in a module, or give ` +
              `${ref.class}.register({ module })`,
            ref.class,
          );
        }
        modules.add(reg.module);
      }
      visit(entry.ref);
    }
  };
  for (const envelope of envelopes) visit(envelope);
  return [...modules];
}

/**
 * The class a function is a method of (`'class Device'`), when it is an own method of a
 * registered Lockable class or of one of its ancestors; undefined otherwise.
 */
export function methodOwner(fn: unknown): string | undefined {
  if (typeof fn !== 'function') return undefined;
  const classes: Array<[string, abstract new (...args: never[]) => unknown]> = [
    ...registeredClasses(),
    ['Lockable', Lockable],
  ];
  for (const [name, cls] of classes) {
    for (
      let proto = cls.prototype as object | null;
      proto !== null && proto !== Object.prototype;
      proto = Object.getPrototypeOf(proto) as object | null
    ) {
      for (const key of Reflect.ownKeys(proto)) {
        if (key === 'constructor') continue;
        const d = Object.getOwnPropertyDescriptor(proto, key);
        const value = d?.value as { [kLocked]?: unknown } | undefined;
        if (value === undefined || (value !== fn && value[kLocked] !== fn)) continue;
        // An inherited method is named after the class that defines it.
        const owner =
          proto === cls.prototype ? name : ((proto as { constructor?: { name?: string } }).constructor?.name ?? name);
        return `class ${owner}`;
      }
    }
  }
  return undefined;
}

/** Changes whenever a Lockable class is registered (cached target checks depend on the registry). */
export function registryVersion(): number {
  return registeredClasses().length;
}
