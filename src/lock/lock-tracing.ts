/**
 * Whether anyone listens to the lock channels (src/diagnostics.ts), pushed to the lock engine as
 * two booleans its fast paths read as module variables, kept exact by watching the channels'
 * subscription methods.
 *
 * Asking `channel.hasSubscribers` of three channels (or calling an imported function) costs
 * 3-5 ns per uncontended acquire + release, a tenth of the whole cycle. Subscribing goes through
 * the channel object's own methods (`dc.subscribe(name, fn)` is `channel(name).subscribe(fn)`;
 * `unsubscribe`, `bindStore`, `unbindStore` likewise), so each lock channel gets own-property
 * wrappers that call the channel's current method and then recompute the booleans from
 * `hasSubscribers`. A load-time probe checks that this Node routes `dc.subscribe` through the
 * method; if it does not, the booleans stay true (the traced path always: never a lost event).
 *
 * Several copies of the library can live in one context (two installed versions, a bundle next
 * to node_modules, a test runner's fresh module registry) and they share the channel objects,
 * which belong to the context. So the wrappers are installed once per channel, by whichever copy
 * comes first, and call every copy's watcher from a registry kept on the channel under a
 * `Symbol.for` key (a copy that replaced the wrappers would silence every earlier copy: its fast
 * paths would skip events someone subscribed to). Watchers are held weakly: a copy that is
 * unloaded is not kept alive by the channel.
 * Runs on the context's JS thread; one module instance (and one set of channel objects) per
 * context.
 */
import * as dc from 'node:diagnostics_channel';
import { channels } from '../diagnostics';

const { lockAcquire, lockGranted, lockReleased, lockOwnerDied } = channels;
const kMethods = ['subscribe', 'unsubscribe', 'bindStore', 'unbindStore'] as const;

let listener: ((grant: boolean, release: boolean) => void) | null = null;

function refresh(): void {
  const grant = lockAcquire.hasSubscribers || lockGranted.hasSubscribers || lockReleased.hasSubscribers;
  listener?.(grant, lockReleased.hasSubscribers);
}

/**
 * The registry on a watched channel: the watchers of every library copy of this context. The key
 * is global (Symbol.for) and versioned: every copy that knows it shares one set of wrappers.
 */
const kWatchers = Symbol.for('shmsync.lock-tracing.watchers.v1');
type Watchers = Set<WeakRef<() => void>>;

/** Calls every live watcher; forgets the collected ones. */
function notify(watchers: Watchers): void {
  for (const ref of watchers) {
    const fn = ref.deref();
    if (fn === undefined) watchers.delete(ref);
    else fn();
  }
}

/**
 * Has `after()` called once each subscription method call on `ch` returns. The first copy to
 * watch `ch` gives it own-property wrappers of those methods and the registry; later copies
 * only join the registry. `after` must stay reachable for as long as it is wanted (it is held
 * weakly).
 */
function watch(ch: object, after: () => void): void {
  const own = ch as { [kWatchers]?: Watchers };
  let watchers = own[kWatchers];
  if (watchers === undefined) {
    const created: Watchers = new Set();
    watchers = created;
    Object.defineProperty(ch, kWatchers, { value: created, configurable: true });
    for (const m of kMethods) {
      if (typeof (ch as Record<string, unknown>)[m] !== 'function') continue;
      Object.defineProperty(ch, m, {
        configurable: true,
        writable: true,
        value: function (this: object, ...args: unknown[]): unknown {
          // The method of the channel's current class: Node's inactive-class `subscribe` switches
          // the object to the active class and calls `this.subscribe` again (this wrapper again).
          const fn = (Object.getPrototypeOf(this) as Record<string, (...a: unknown[]) => unknown>)[m];
          try {
            return fn.apply(this, args);
          } finally {
            notify(created);
          }
        },
      });
    }
  }
  watchers.add(new WeakRef(after));
}

/** Whether `dc.subscribe(name, fn)` reaches a wrapper installed by watch() on this Node. */
function routesThroughMethods(): boolean {
  const name = `shmsync:lock:probe:${process.pid}`;
  const probe = dc.channel(name);
  let seen = 0;
  watch(probe, () => (seen += 1));
  const noop = (): void => {};
  try {
    dc.subscribe(name, noop);
    const subscribed = seen > 0 && probe.hasSubscribers;
    seen = 0;
    dc.unsubscribe(name, noop);
    return subscribed && seen > 0 && !probe.hasSubscribers;
  } catch {
    return false;
  }
}

const exact = routesThroughMethods();
if (exact) for (const ch of [lockAcquire, lockGranted, lockReleased, lockOwnerDied]) watch(ch, refresh);

/**
 * Calls `update(grant, release)` now and whenever a lock channel's subscriptions change:
 * `grant` - a fresh uncontended acquisition must take the traced path (someone listens to
 * 'acquire', 'granted' or 'released'; it publishes nothing on 'ownerDied': nobody died);
 * `release` - a release must publish (someone listens to 'released'). On a Node where the
 * subscription methods cannot be watched, calls `update(true, true)` once: the fast paths then
 * always take the traced path (correct, slower). One listener (the lock engine module), so the
 * fast paths read two module variables, nothing else.
 */
export function watchLockTracing(update: (grant: boolean, release: boolean) => void): void {
  if (!exact) {
    update(true, true);
    return;
  }
  listener = update;
  refresh();
}
