import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { type Mutex, lockOf } from '../dist';
import { Child, fixturesDir } from './helpers/fork';

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const lib = require('./fixtures/lockable-lib.js');

// Every decorator must work with both TypeScript flavours: the same fixture source
// (test/fixtures/decorators/classes.ts) is type-checked, compiled and run under each.

function dispose(t: TapTest, ...locks: Mutex[]): void {
  t.teardown(() => {
    for (const m of locks) {
      m.close();
      m.unlink();
    }
  });
}

/** Compiles the decorator fixtures under one flavour into a temp dir; returns the module path. */
function compile(flavour: 'legacy' | 'standard'): { file: string; dir: string; errors: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `shmsync-decorators-${flavour}-`));
  fs.symlinkSync(path.join(__dirname, '..', 'dist'), path.join(dir, 'dist'));
  const outDir = path.join(dir, 'test', 'fixtures', 'decorators'); // keeps '../../../dist' valid
  const config = path.join(fixturesDir, 'decorators', `tsconfig.${flavour}.json`);
  const host = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d: ts.Diagnostic) => {
      throw new Error(String(d.messageText));
    },
  };
  const parsed = ts.getParsedCommandLineOfConfigFile(config, { outDir }, host)!;
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const emitted = program.emit();
  const errors = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) =>
    ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  );
  return { file: path.join(outDir, 'classes.js'), dir, errors };
}

for (const flavour of ['legacy', 'standard'] as const) {
  t.test(`${flavour} decorators`, async (t) => {
    const out = compile(flavour);
    t.teardown(() => fs.rmSync(out.dir, { recursive: true, force: true }));
    t.same(out.errors, [], 'the fixtures type-check and compile');
    const js = fs.readFileSync(out.file, 'utf8');
    t.match(js, flavour === 'legacy' ? /__decorate\(/ : /__esDecorate\(/, `emitted as ${flavour} decorators`);

    const { Account, Inventory, Ledger, Tally } = require(out.file);

    t.test('@Lockable.locked is reentrant: sync->sync, async->async, async->sync, sync->async', async (t) => {
      const a = new Account();
      dispose(t, a.lock);
      t.equal(a.syncOuter(), 2, 'sync -> sync');
      t.equal(await a.asyncOuter(), 2, 'async -> async');
      t.equal(await a.asyncToSync(), 2, 'async -> sync');
      t.equal(await a.syncToAsync(), 2, 'sync -> async');
      t.equal(a.lock.info().locked, false, 'every hold was released');
    });

    t.test('@Lockable.locked releases on throw and on rejection', async (t) => {
      const a = new Account();
      dispose(t, a.lock);
      t.throws(() => a.fail(), { message: 'sync failure' });
      t.equal(a.lock.info().locked, false, 'released after a throw');
      await t.rejects(a.failLater(), { message: 'async failure' });
      t.equal(a.lock.info().locked, false, 'released after a rejection');
      t.equal(a.depth(), 1, 'and usable again');
    });

    t.test('a non-async method that returns a promise holds the lock until it settles', async (t) => {
      const a = new Account();
      dispose(t, a.lock);
      const p = a.later();
      t.equal(a.lock.info().locked, true, 'held after the method returned');
      t.equal(a.tryAcquire(), false, 'this thread outside the call cannot take it');
      t.equal(await p, true, 'held inside the continuation');
      t.equal(a.lock.info().locked, false, 'released when the promise settled');
    });

    t.test('concurrent async calls in one process never overlap', async (t) => {
      const a = new Account();
      const rec = new lib.Recorder(32);
      const control = new lib.Recorder(32);
      dispose(t, a.lock);
      t.teardown(() => {
        rec.close();
        rec.unlink();
        control.close();
        control.unlink();
      });
      await Promise.all(Array.from({ length: 16 }, () => a.critical(lib.recorderFor(rec))));
      t.equal(rec.intervals().length, 16);
      t.same(rec.overlaps(), [], 'no two locked calls overlap');
      await Promise.all(Array.from({ length: 16 }, () => a.unlockedCritical(lib.recorderFor(control))));
      t.not(control.overlaps().length, 0, 'control: the same body without the lock does overlap');
    });

    t.test(
      '@lockable locks every own method except ignored ones, accessors, statics and the constructor',
      async (t) => {
        const inv = new Inventory();
        dispose(t, lockOf(inv));
        t.equal(inv.heldInConstructor, false, 'constructor: not locked');
        t.equal(inv.add(1), true, 'sync method: locked');
        t.equal(await inv.addLater(1), true, 'async method: locked');
        t.equal(inv[Symbol.for('shmsync.test.symbolMethod')](), true, 'symbol-keyed method: locked');
        t.equal(inv.peek(), false, '@lockable.ignore sync method: not locked');
        t.equal(await inv.peekLater(), false, '@lockable.ignore async method: not locked');
        t.equal(inv.held, false, 'getter: not locked');
        t.equal(Inventory.probe(), 1);
        t.equal(
          Object.getOwnPropertySymbols(Inventory).length,
          0,
          'static method: not locked (no class lock was created)',
        );
        const ledger = new Ledger();
        dispose(t, ledger.lock);
        t.equal(ledger.push(), true, 'on a Lockable subclass it uses the instance lock');
        t.equal(ledger.depth(), 1, 'a method also marked @Lockable.locked is wrapped once');
        t.equal(ledger.size(), false);
      },
    );

    t.test('@locked creates one lock per instance, lazily, on first call', async (t) => {
      const a = new Tally();
      const b = new Tally();
      t.equal(Object.getOwnPropertySymbols(a).length, 0, 'no lock before the first call');
      t.equal(a.bump(), true);
      t.equal(Object.getOwnPropertySymbols(a).length, 1, 'created by the first call');
      t.equal(await b.bumpLater(), true);
      dispose(t, lockOf(a), lockOf(b));
      t.not(lockOf(a).name, lockOf(b).name, 'a unique name per instance');
      const rec = new lib.Recorder(16);
      t.teardown(() => {
        rec.close();
        rec.unlink();
      });
      await Promise.all(Array.from({ length: 12 }, () => a.critical(lib.recorderFor(rec))));
      t.same(rec.overlaps(), [], 'concurrent calls are serialised');
    });

    t.test('an ignored method runs while another process holds the lock', async (t) => {
      const inv = new Inventory();
      const lock = lockOf(inv);
      dispose(t, lock);
      const child = new Child('lockable-holder.js', [JSON.stringify(lock)]);
      await child.message('ready');
      child.send({ type: 'hold' });
      const { pid } = await child.message<{ type: string; pid: number }>('holding');
      t.equal(lock.info().holder?.pid, pid, 'the other process holds the lock');
      t.equal(inv.peek(), false, 'the ignored method completed without the lock');
      const pending = inv.addLater(5);
      t.ok(lock.info().waiters >= 1, 'a locked method waits');
      t.equal(inv.items, 0, 'and has not run');
      child.send({ type: 'release' });
      await child.message('released');
      t.equal(await pending, true, 'it runs once the other process released');
      t.equal(inv.items, 5);
      child.send({ type: 'exit' });
      t.same(await child.exited, { code: 0, signal: null });
    });
  });
}
