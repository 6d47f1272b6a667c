/**
 * Argument validation for the public API. Every check goes through this file so messages
 * follow one template: `${name} must be ${expected}. Received ${describe(value)}`.
 * Runs on the calling JS thread before any native call; native code trusts what passes here.
 */
import { AbortError, ArgumentTypeError, ArgumentValueError, InvalidNameError, OutOfRangeError } from './errors';

/** Short description of a received value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return `type string (${JSON.stringify(shown)})`;
  }
  if (typeof value === 'number') return `type number (${value})`;
  if (typeof value === 'bigint') return `type bigint (${value}n)`;
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor;
    return ctor && ctor.name ? `an instance of ${ctor.name}` : 'an object';
  }
  return `type ${typeof value} (${String(value)})`;
}

function message(name: string, expected: string, value: unknown): string {
  return `${name} must be ${expected}. Received ${describe(value)}`;
}

export function typeError(name: string, expected: string, value: unknown): ArgumentTypeError {
  return new ArgumentTypeError(message(name, expected, value));
}

export function rangeError(name: string, expected: string, value: unknown): OutOfRangeError {
  return new OutOfRangeError(message(name, expected, value));
}

export function valueError(name: string, expected: string, value: unknown): ArgumentValueError {
  return new ArgumentValueError(message(name, expected, value));
}

/** Longest logical name in UTF-8 bytes (leaves room for the prefix under NAME_MAX 255). */
export const kMaxNameBytes = 200;

export function validateName(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw typeError(name, 'a string', value);
  const bytes = Buffer.byteLength(value);
  if (bytes === 0 || bytes > kMaxNameBytes || value.includes('/') || value.includes('\0')) {
    throw new InvalidNameError(
      message(name, `a non-empty string of at most ${kMaxNameBytes} bytes without "/" or NUL`, value),
    );
  }
}

export function validateObject(name: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw typeError(name, 'an object', value);
  }
}

/** `options` may be undefined; anything else must be a plain object. Returns an object. */
export function optionsObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  validateObject(name, value);
  return value;
}

export function validateBoolean(name: string, value: unknown): asserts value is boolean {
  if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
}

export function validateFunction(name: string, value: unknown): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw typeError(name, 'a function', value);
}

export function validateInteger(name: string, value: unknown, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw typeError(name, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw rangeError(name, `an integer from ${min} to ${max}`, value);
  }
}

export function validateOneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw valueError(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
}

/**
 * A timeout in milliseconds: undefined (wait forever), Infinity (wait forever) or a finite
 * number >= 0. Returns -1 for "forever", else the number.
 */
export function validateTimeout(name: string, value: unknown): number {
  if (value === undefined || value === Infinity) return -1;
  if (typeof value !== 'number') throw typeError(name, 'a number of milliseconds', value);
  if (Number.isNaN(value) || value < 0) throw rangeError(name, 'a number >= 0', value);
  return value;
}

export function validateSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as AbortSignal).aborted !== 'boolean' ||
    typeof (value as AbortSignal).addEventListener !== 'function'
  ) {
    throw typeError(name, 'an AbortSignal', value);
  }
  return value as AbortSignal;
}

/** The validated `{ timeout, signal }` of a Promise wait; timeout -1 waits forever. */
export interface WaitTimeout {
  readonly timeout: number;
  readonly signal: AbortSignal | undefined;
}

const kWaitForever: WaitTimeout = Object.freeze({ timeout: -1, signal: undefined });
const kWaitKeys: readonly string[] = ['timeout', 'signal'];

/**
 * The `options` of a Promise wait (Mutex/RwLock acquire, queue get/put): undefined, or a plain
 * object of `timeout` and `signal`, and of the `extra` keys the caller reads and validates itself.
 * Unknown keys are refused before the values are checked (timeout first, then signal).
 */
export function validateWaitOptions(options: unknown, extra: readonly string[] = []): WaitTimeout {
  if (options === undefined) return kWaitForever;
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, extra.length === 0 ? kWaitKeys : [...kWaitKeys, ...extra]);
  return {
    timeout: validateTimeout('options.timeout', opts.timeout),
    signal: validateSignal('options.signal', opts.signal),
  };
}

/** Rejection reason for an aborted signal: an AbortError whose cause is signal.reason. */
export function abortErrorFor(signal: AbortSignal): AbortError {
  return new AbortError('The operation was aborted', { cause: signal.reason });
}

/** Rejects unknown option keys with a targeted message for known misspellings. */
export function rejectUnknownOptions(
  name: string,
  options: Record<string, unknown>,
  known: readonly string[],
  renamed: Record<string, string> = {},
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const hint = renamed[key];
    throw valueError(
      `${name}.${key}`,
      hint ? `spelled '${hint}'` : `one of the known options (${known.join(', ')})`,
      options[key],
    );
  }
}
