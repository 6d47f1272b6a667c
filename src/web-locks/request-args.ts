/**
 * The Web Locks specification's argument rules for `request(name, [options], callback)`, in its
 * order (WebIDL conversions first, then the NotSupportedError rules, then an aborted signal).
 * Throws what `request()` rejects with. JS thread.
 */
import type { LockGrantedCallback, LockMode } from './types';

/**
 * Longest lock name in UTF-16 code units: the segment's 1024-byte label stores it as UTF-16, so
 * that any DOMString (lone surrogates included) comes back from query() exactly as given.
 */
export const kMaxLockNameLength = 512;
const kModes: readonly string[] = ['shared', 'exclusive'];

export function domError(message: string, name: string): Error {
  return new DOMException(message, name);
}

export interface Parsed<T> {
  name: string;
  mode: LockMode;
  ifAvailable: boolean;
  steal: boolean;
  signal: AbortSignal | undefined;
  callback: LockGrantedCallback<T>;
}

/** The specification's argument rules, in its order (WebIDL conversions first). */
export function parseRequest<T>(args: unknown[]): Parsed<T> {
  if (args.length < 2) throw new TypeError('request() needs a name and a callback');
  const name = String(args[0]);
  let options: unknown = {};
  let callback = args[1];
  if (args.length > 2) {
    options = args[1] ?? {};
    callback = args[2];
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const o = options as Record<string, unknown>;
  const mode = o.mode === undefined ? 'exclusive' : String(o.mode);
  if (!kModes.includes(mode))
    throw new TypeError(`options.mode must be 'shared' or 'exclusive', received ${String(o.mode)}`);
  const ifAvailable = Boolean(o.ifAvailable);
  const steal = Boolean(o.steal);
  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new TypeError('options.signal must be an AbortSignal');
  if (typeof callback !== 'function') throw new TypeError('callback must be a function');
  if (name.startsWith('-')) throw domError('lock names starting with "-" are reserved', 'NotSupportedError');
  if (steal && ifAvailable) throw domError('steal and ifAvailable cannot be used together', 'NotSupportedError');
  if (steal && mode !== 'exclusive') throw domError('steal needs mode "exclusive"', 'NotSupportedError');
  if (signal !== undefined && (steal || ifAvailable)) {
    throw domError('signal cannot be used with steal or ifAvailable', 'NotSupportedError');
  }
  if (signal?.aborted) throw signal.reason;
  if (name.length > kMaxLockNameLength) {
    throw domError(
      `lock names longer than ${kMaxLockNameLength} UTF-16 code units are not supported`,
      'NotSupportedError',
    );
  }
  return { name, mode: mode as LockMode, ifAvailable, steal, signal, callback: callback as LockGrantedCallback<T> };
}
