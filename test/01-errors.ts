import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as errors from '../dist/errors';
import {
  AbortError,
  ArgumentTypeError,
  ArgumentValueError,
  InvalidNameError,
  OutOfRangeError,
  ShmsyncError,
  TimeoutError,
  NotFoundError,
  errorClassFor,
  createNativeError,
} from '../dist/errors';
import { describe, rangeError, typeError, valueError } from '../dist/validate';

type ErrorCtor = new (message?: string, options?: { cause?: unknown }) => Error & { code: string };

// Every operational class and the code it must keep forever (a code change is a breaking change).
const operational: Array<[string, string]> = [
  ['NotFoundError', 'SHMSYNC_NOT_FOUND'],
  ['ExistsError', 'SHMSYNC_EXISTS'],
  ['KindMismatchError', 'SHMSYNC_KIND_MISMATCH'],
  ['VersionMismatchError', 'SHMSYNC_VERSION_MISMATCH'],
  ['SizeMismatchError', 'SHMSYNC_SIZE_MISMATCH'],
  ['CorruptError', 'SHMSYNC_CORRUPT'],
  ['PermissionError', 'SHMSYNC_PERMISSION'],
  ['SystemError', 'SHMSYNC_SYSTEM'],
  ['TimeoutError', 'SHMSYNC_TIMEOUT'],
  ['NotOwnerError', 'SHMSYNC_NOT_OWNER'],
  ['OwnerDeadError', 'SHMSYNC_OWNER_DEAD'],
  ['NotRecoverableError', 'SHMSYNC_NOT_RECOVERABLE'],
  ['DeadlockError', 'SHMSYNC_DEADLOCK'],
  ['SyncReentryError', 'SHMSYNC_SYNC_REENTRY'],
  ['ClosedError', 'SHMSYNC_CLOSED'],
  ['TooLargeError', 'SHMSYNC_TOO_LARGE'],
  ['BusyError', 'SHMSYNC_BUSY'],
  ['NoExternalBufferError', 'SHMSYNC_NO_EXTERNAL_BUFFER'],
];

// Programmer mistakes: built-in TypeError/RangeError with a code, never a ShmsyncError.
const argument: Array<[string, string, typeof TypeError | typeof RangeError, string]> = [
  ['ArgumentTypeError', 'SHMSYNC_INVALID_ARG_TYPE', TypeError, 'TypeError'],
  ['ArgumentValueError', 'SHMSYNC_INVALID_ARG_VALUE', TypeError, 'TypeError'],
  ['OutOfRangeError', 'SHMSYNC_OUT_OF_RANGE', RangeError, 'RangeError'],
  ['InvalidNameError', 'SHMSYNC_INVALID_NAME', TypeError, 'TypeError'],
];

const classes = errors as unknown as Record<string, ErrorCtor & { code?: string }>;

// Every exported operational class (found by inheritance, so new classes are covered too).
const exportedOperational = Object.entries(classes)
  .filter(
    ([name, v]) =>
      typeof v === 'function' && name !== 'AbortError' && Object.prototype.isPrototypeOf.call(ShmsyncError, v),
  )
  .map(([name]) => name);

t.test('the stable codes are unchanged', async (t) => {
  for (const [name, code] of operational) t.equal(classes[name]?.code, code, `${name}.code`);
  t.ok(exportedOperational.length >= operational.length, 'the export scan finds the classes');
  const codes = exportedOperational.map((n) => classes[n].code);
  t.equal(new Set(codes).size, codes.length, 'no two classes share a code');
  t.ok(
    codes.every((c) => typeof c === 'string' && c.startsWith('SHMSYNC_')),
    'every code has the prefix',
  );
});

t.test('every operational error class has its code, name, cause and instanceof', async (t) => {
  for (const name of exportedOperational) {
    const cls = classes[name];
    const code = cls.code as string;
    const cause = new Error('root cause');
    const err = new cls('something failed', { cause });
    t.equal(err.code, code, `${name} instance code`);
    t.equal(err.name, name, `${name} name`);
    t.equal(err.message, 'something failed', `${name} message`);
    t.equal(err.cause, cause, `${name} keeps its cause`);
    t.notOk('cause' in new cls('no cause'), `${name} without cause has no cause property`);
    t.ok(err instanceof cls, `${name} instanceof its own class`);
    t.ok(err instanceof ShmsyncError, `${name} instanceof ShmsyncError`);
    t.ok(err instanceof Error, `${name} instanceof Error`);
    t.match(String(err.stack), new RegExp(`^${name}: something failed`), `${name} stack names the class`);
    t.equal(errorClassFor(code), cls, `errorClassFor(${code})`);
    t.ok(new cls().message.length > 0, `${name} has a default message`);
    const others = exportedOperational.filter((o) => o !== name && err instanceof classes[o]);
    t.same(others, [], `${name} is an instance of no other class`);
  }
});

t.test('AbortError looks like the platform abort error', async (t) => {
  const reason = new Error('stop');
  const err = new AbortError(undefined, { cause: reason });
  t.equal(err.name, 'AbortError');
  t.equal(err.code, 'ABORT_ERR');
  t.equal(err.cause, reason);
  t.ok(err instanceof AbortError);
  t.ok(err instanceof ShmsyncError);
  t.notOk(err instanceof TimeoutError);
  t.ok(Object.assign(new Error('x'), { code: 'ABORT_ERR' }) instanceof AbortError, 'rebuilt from plain data');
});

t.test('argument errors are TypeError/RangeError with codes, not ShmsyncError', async (t) => {
  for (const [name, code, base, baseName] of argument) {
    const cls = classes[name];
    const err = new cls('bad argument');
    t.equal(err.code, code, `${name} code`);
    t.equal(err.name, baseName, `${name} name`);
    t.ok(err instanceof base, `${name} instanceof ${baseName}`);
    t.ok(err instanceof cls, `${name} instanceof its own class`);
    t.notOk(err instanceof ShmsyncError, `${name} is not an operational ShmsyncError`);
    t.match(String(err.stack), new RegExp(`^${baseName}: bad argument`), `${name} stack`);
    t.ok(Object.assign(new Error('x'), { code }) instanceof cls, `${name} rebuilt from plain data`);
    t.equal(Object.keys(err).includes('code'), true, `${name} code is enumerable (survives copies)`);
  }
  t.notOk(new ArgumentTypeError('x') instanceof OutOfRangeError);
  t.notOk(new OutOfRangeError('x') instanceof ArgumentTypeError);
  t.notOk(new TypeError('plain') instanceof ArgumentTypeError, 'a plain TypeError is not one');
});

t.test('instanceof works for errors rebuilt from plain data', async (t) => {
  const rebuilt = Object.assign(new Error('x'), { code: 'SHMSYNC_TIMEOUT' });
  t.ok(rebuilt instanceof TimeoutError);
  t.ok(rebuilt instanceof ShmsyncError);
  t.notOk(rebuilt instanceof NotFoundError);
  // As it arrives after JSON over IPC.
  const wire = JSON.parse(JSON.stringify({ message: 'gone', code: 'SHMSYNC_NOT_FOUND' }));
  const revived = Object.assign(new Error(wire.message), wire);
  t.ok(revived instanceof NotFoundError);
  t.ok(revived instanceof ShmsyncError);
  // Things that are not ours.
  t.notOk(Object.assign(new Error('x'), { code: 'ENOENT' }) instanceof ShmsyncError);
  t.notOk(Object.assign(new Error('x'), { code: 20 }) instanceof ShmsyncError, 'numeric code');
  t.notOk(new Error('x') instanceof ShmsyncError);
  for (const v of [null, undefined, 'SHMSYNC_TIMEOUT', 42, { code: undefined }]) {
    t.notOk((v as unknown) instanceof TimeoutError, `${String(v)} is not a TimeoutError`);
  }
});

t.test('instanceof works for errors from a different copy of the module', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-errors-copy-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const copyPath = path.join(dir, 'errors.js');
  fs.copyFileSync(require.resolve('../dist/errors'), copyPath);

  const copy = require(copyPath) as typeof errors;
  t.not(copy.TimeoutError, TimeoutError, 'really a second copy');
  t.not(copy.ShmsyncError, ShmsyncError);

  const foreign = new copy.TimeoutError('from the other copy');
  t.ok(foreign instanceof TimeoutError, 'copy instance instanceof our class');
  t.ok(foreign instanceof ShmsyncError, 'copy instance instanceof our base');
  t.notOk(foreign instanceof NotFoundError);
  const ours = new NotFoundError('ours');
  t.ok(ours instanceof copy.NotFoundError, 'our instance instanceof the copy class');
  t.ok(ours instanceof copy.ShmsyncError);
  t.notOk(ours instanceof copy.TimeoutError);
  t.ok(new copy.ArgumentTypeError('x') instanceof ArgumentTypeError);
  t.notOk(new copy.ArgumentTypeError('x') instanceof ShmsyncError);
  t.ok(new copy.OutOfRangeError('x') instanceof RangeError, 'still a RangeError of this realm');
  // An unknown future code from a newer copy is still a ShmsyncError through the brand.
  const future = new copy.ShmsyncError('newer', 'SHMSYNC_SOMETHING_NEW');
  t.ok(future instanceof ShmsyncError);
  t.notOk(future instanceof TimeoutError);
});

t.test('createNativeError maps codes to classes and keeps errno/syscall', async (t) => {
  const err = createNativeError('SHMSYNC_PERMISSION', 'segment "x": permission denied', 13, 'shm_open');
  t.ok(err instanceof errors.PermissionError);
  t.match(err, { code: 'SHMSYNC_PERMISSION', errno: 13, syscall: 'shm_open', name: 'PermissionError' });
  const noErrno = createNativeError('SHMSYNC_NOT_FOUND', 'gone', 0, '');
  t.notOk('errno' in noErrno, 'errno 0 is omitted');
  t.notOk('syscall' in noErrno, 'empty syscall is omitted');
  const unknown = createNativeError('SHMSYNC_WOULD_BLOCK', 'would block', 0, '');
  t.ok(unknown instanceof ShmsyncError, 'a code without a class still gets the base class');
  t.equal((unknown as ShmsyncError).code, 'SHMSYNC_WOULD_BLOCK');
  t.equal(errorClassFor('SHMSYNC_NOPE'), undefined);
});

t.test('validation messages follow one template, verbatim', async (t) => {
  t.equal(
    typeError('options.timeout', 'a number of milliseconds', 'soon').message,
    'options.timeout must be a number of milliseconds. Received type string ("soon")',
  );
  t.equal(
    rangeError('options.size', 'an integer from 1 to 10', -1).message,
    'options.size must be an integer from 1 to 10. Received type number (-1)',
  );
  t.equal(
    valueError('options.create', "one of 'open', 'create'", null).message,
    "options.create must be one of 'open', 'create'. Received null",
  );
  t.equal(typeError('fn', 'a function', undefined).message, 'fn must be a function. Received undefined');
  t.equal(typeError('x', 'a string', 10n).message, 'x must be a string. Received type bigint (10n)');
  t.equal(typeError('x', 'a string', function named() {}).message, 'x must be a string. Received function named');
  t.equal(typeError('x', 'a string', new Map()).message, 'x must be a string. Received an instance of Map');
  t.equal(typeError('x', 'a string', Object.create(null)).message, 'x must be a string. Received an object');
  t.equal(typeError('x', 'a number', true).message, 'x must be a number. Received type boolean (true)');
  t.equal(describe('a'.repeat(41)), `type string ("${'a'.repeat(40)}...")`, 'long strings are cut at 40');
  const err = typeError('x', 'y', 1);
  t.ok(err instanceof TypeError);
  t.equal(err.code, 'SHMSYNC_INVALID_ARG_TYPE');
  t.equal(rangeError('x', 'y', 1).code, 'SHMSYNC_OUT_OF_RANGE');
  t.equal(valueError('x', 'y', 1).code, 'SHMSYNC_INVALID_ARG_VALUE');
  t.ok(new InvalidNameError('n') instanceof TypeError);
  t.ok(new ArgumentValueError('n') instanceof TypeError);
});
