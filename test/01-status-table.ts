// One status -> error table: the TypeScript table (src/addon/status.ts), the native enum
// (native/core/status.h) and the native table that C++ throws from (native/addon/errors.cc) must
// agree row by row: name, value, code and message. And every code a status can surface as an
// error has its class in src/errors.ts. A change to any one of them without the others fails here.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { kStatusTable, statusCode, statusError, statusRow } from '../dist/addon/status';
import * as errors from '../dist/errors';
import { createNativeError, errorClassFor, ShmsyncError } from '../dist/errors';

const root = path.join(__dirname, '..');
const read = (p: string): string => fs.readFileSync(path.join(root, p), 'utf8');

/** C string literals (adjacent ones joined) of a C++ source fragment. */
function cStrings(src: string): string[] {
  const out: string[] = [];
  // Literals separated only by whitespace are one string (C concatenation); ',' or '}' ends it.
  let i = 0;
  let cur: string | null = null;
  while (i < src.length) {
    const c = src[i];
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (src[j] !== '"') {
        if (src[j] === '\\') {
          s += src[j + 1];
          j += 2;
        } else s += src[j++];
      }
      cur = (cur ?? '') + s;
      i = j + 1;
    } else if (c === ',' || c === '}') {
      if (cur !== null) out.push(cur);
      cur = null;
      i++;
    } else i++;
  }
  if (cur !== null) out.push(cur);
  return out;
}

function nativeEnum(): Array<[string, number]> {
  const body = /enum class Status : int32_t \{([\s\S]*?)\};/.exec(read('native/core/status.h'))![1];
  return [...body.matchAll(/\bk(\w+)\s*=\s*(\d+)/g)]
    .map((m) => [m[1], Number(m[2])] as [string, number])
    .filter(([n]) => n !== 'Count');
}

function nativeTable(): Array<[string, string]> {
  const body = /constexpr StatusInfo kStatusTable\[\] = \{([\s\S]*?)\n\};/.exec(read('native/addon/errors.cc'))![1];
  const rows: Array<[string, string]> = [];
  for (const m of body.matchAll(/\{((?:\s*"(?:[^"\\]|\\.)*"\s*)+),((?:\s*"(?:[^"\\]|\\.)*"\s*)+)\}/g)) {
    const [code] = cStrings(m[1]);
    const [message] = cStrings(m[2]);
    rows.push([code, message]);
  }
  return rows;
}

t.test('TypeScript rows are indexed by their status', async (t) => {
  kStatusTable.forEach((r, i) => t.equal(r.status, i, `row ${i} (${r.name})`));
});

t.test('native enum, native table and TypeScript table agree', async (t) => {
  const en = nativeEnum();
  const nt = nativeTable();
  t.equal(en.length, kStatusTable.length, 'as many native statuses as TypeScript rows');
  t.equal(nt.length, kStatusTable.length, 'as many native table rows as TypeScript rows');
  for (let i = 0; i < kStatusTable.length; i++) {
    const r = kStatusTable[i];
    t.same(en[i], [r.name, r.status], `status.h names ${r.name} = ${r.status}`);
    t.same(nt[i], [r.code, r.message], `errors.cc row ${i} has ${r.code} and the same message`);
  }
});

t.test('every status that can become an error has its class; the others are mapped by callers', async (t) => {
  // Ok and WouldBlock never surface as errors: callers turn them into return values.
  const noClass = new Set(['SHMSYNC_OK', 'SHMSYNC_WOULD_BLOCK']);
  for (const r of kStatusTable) {
    const cls = errorClassFor(r.code);
    if (noClass.has(r.code)) t.equal(cls, undefined, `${r.code}: no class`);
    else t.ok(cls !== undefined && cls.code === r.code, `${r.code}: class ${cls?.name}`);
  }
});

t.test('statusError builds the class of the code, with the table message or a detail', async (t) => {
  const e = statusError(9, 'mutex "x"');
  t.ok(e instanceof errors.TimeoutError);
  t.equal(e.code, 'SHMSYNC_TIMEOUT');
  t.equal(e.message, 'mutex "x": timed out');
  const d = statusError(14, 'mutex "x"', 'held through another async context');
  t.ok(d instanceof errors.DeadlockError);
  t.equal(d.message, 'mutex "x": held through another async context');
  // Unknown numbers read as System, as native StatusCode does.
  t.equal(statusCode(12345), 'SHMSYNC_SYSTEM');
  t.equal(statusRow(-1).code, 'SHMSYNC_SYSTEM');
  t.ok(statusError(12345, 's') instanceof errors.SystemError);
  // Same class whichever side built it: the native factory and the table agree.
  for (const r of kStatusTable) {
    if (errorClassFor(r.code) === undefined) continue;
    const fromNative = createNativeError(r.code, 'm', 0, '');
    const fromTable = statusError(r.status, 's');
    t.equal(Object.getPrototypeOf(fromNative), Object.getPrototypeOf(fromTable), `${r.code}: same class both ways`);
    t.ok(fromTable instanceof ShmsyncError);
  }
});
