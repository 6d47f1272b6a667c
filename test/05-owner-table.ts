import t from 'tap';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ExistsError, Mutex, OwnerTableMismatchError, ShmQueue } from '../dist';
import { testName } from './helpers/shm';

// Owner ids only mean something in the owner table that issued them: a process with another
// table (another user, another SHMSYNC_OWNER_TABLE) would judge every holder dead and break
// mutual exclusion. Opening a lock or queue created under another table is refused instead.

const dist = path.join(__dirname, '..', 'dist');

function openInChild(kind: 'Mutex' | 'ShmQueue', name: string, table: string): string {
  const code = `
    const lib = require(${JSON.stringify(dist)});
    try { const h = new lib.${kind}(${JSON.stringify(name)}, { create: 'open' }); h.close(); console.log('opened'); }
    catch (e) { console.log(e.code, e instanceof lib.OwnerTableMismatchError); }`;
  return execFileSync(process.execPath, ['-e', code], {
    env: { ...process.env, SHMSYNC_OWNER_TABLE: table },
    encoding: 'utf8',
  }).trim();
}

t.test('a mutex created under another owner table is refused with its code', (t) => {
  const name = testName('table-mutex');
  const m = new Mutex(name);
  const other = `${testName('other-table')}`;
  t.teardown(() => {
    m.close();
    Mutex.unlink(name);
    fs.rmSync(`/dev/shm/shmsync-${other}`, { force: true });
  });
  t.equal(openInChild('Mutex', name, other), 'SHMSYNC_OWNER_TABLE_MISMATCH true');
  t.equal(openInChild('Mutex', name, process.env.SHMSYNC_OWNER_TABLE ?? ''), 'opened', 'the same table opens it');
  t.end();
});

t.test('a queue created under another owner table is refused with its code', (t) => {
  const name = testName('table-queue');
  const q = new ShmQueue(name, { capacity: 4096 });
  const other = `${testName('other-table')}`;
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(name);
    fs.rmSync(`/dev/shm/shmsync-${other}`, { force: true });
  });
  t.equal(openInChild('ShmQueue', name, other), 'SHMSYNC_OWNER_TABLE_MISMATCH true');
  t.ok(new OwnerTableMismatchError() instanceof OwnerTableMismatchError);
  t.end();
});

t.test("create: 'create' of a mutex this thread already has open throws SHMSYNC_EXISTS", (t) => {
  const name = testName('create-twice');
  const m = new Mutex(name, { create: 'create' });
  t.teardown(() => {
    m.close();
    Mutex.unlink(name);
  });
  t.throws(() => new Mutex(name, { create: 'create' }), ExistsError);
  t.end();
});
