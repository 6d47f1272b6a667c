// Issue 9 item 17: Lockable subclasses and methods as pcall targets. A registered subclass
// instance reaches a child as that subclass (the child loads the module that registers it), the
// seed's `pcall(device.execute, ...)` has a working form `{ object: device, method: 'execute' }`,
// and everything that cannot work is a coded error instead of a silent base Lockable or lost `this`.
import t from 'tap';
import { ChildProcessException, Lockable, PcallTargetError, pcall } from '../dist';

// tap's process tracker in NODE_OPTIONS would slow every child (see 31-pcall-run.ts).
delete process.env.NODE_OPTIONS;

const lib = require('./fixtures/pcall-device.js') as {
  Device: new () => Lockable & { execute(cmd: string): Report };
  Misfiled: new () => Lockable & { ping(): string };
  Ghost: new () => Lockable & { ping(): string };
};
interface Report {
  cmd: string;
  isDevice: boolean;
  lock: string;
  depth: number;
  pid: number;
}

function make<T extends Lockable>(t: { teardown(fn: () => void): void }, Cls: new () => T): T {
  const obj = new Cls();
  t.teardown(() => {
    obj.lock.close();
    obj.lock.unlink();
  });
  return obj;
}

t.test("the seed's pcall(device.execute, command=[...]): a method target runs on the rebuilt device", async (t) => {
  const device = make(t, lib.Device);
  const results = await pcall<Report>(
    { object: device, method: 'execute' },
    { iargs: [['show version'], ['show clock']] },
  );
  t.same(
    results.map((r) => r.cmd),
    ['show version', 'show clock'],
    'each call got its command',
  );
  t.ok(
    results.every((r) => r.isDevice),
    '`this` is a Device in the child',
  );
  t.ok(
    results.every((r) => r.lock === device.lock.name),
    "the same lock as the parent's device",
  );
  t.ok(
    results.every((r) => r.depth === 1),
    'the locked method ran holding it',
  );
  t.ok(
    results.every((r) => r.pid !== process.pid),
    'in child processes',
  );
  const [threaded] = await pcall<Report>({ object: device, method: 'execute' }, { iargs: [['t']], mode: 'thread' });
  t.equal(threaded.isDevice, true, 'thread mode too');
});

t.test(
  'a registered subclass passed to a plain function target arrives as that subclass, methods and all',
  async (t) => {
    const device = make(t, lib.Device);
    const [seen] = await pcall(
      (d: { constructor: { name: string }; execute(c: string): Report }) => ({
        kind: d.constructor.name,
        out: d.execute('x'),
      }),
      { iargs: [[device]] },
    );
    t.same(seen, {
      kind: 'Device',
      out: { cmd: 'x', isDevice: true, lock: device.lock.name, depth: 1, pid: (seen as { out: Report }).out.pid },
    });
  },
);

t.test('pcall(device.execute, ...) itself is a coded TypeError that shows the method form', async (t) => {
  const device = make(t, lib.Device);
  await t.rejects(pcall(device.execute, { iargs: [['x']] }), {
    code: 'SHMSYNC_INVALID_ARG_TYPE',
    message:
      /^targets\[0\] must be a function that does not need `this`; execute is a method of class Device\. Pass a method target \{ object: instance, method: 'execute' \}/,
  });
  await t.rejects(pcall(Lockable.prototype.acquireSync, { iargs: [[]] }), {
    code: 'SHMSYNC_INVALID_ARG_TYPE',
    message: /acquireSync is a method of class Lockable/,
  });
});

t.test('what cannot be rebuilt is a coded error, never a silent plain Lockable', async (t) => {
  class Unregistered extends Lockable {
    ping(): string {
      return 'pong';
    }
  }
  const loose = make(t, Unregistered);
  await t.rejects(
    pcall((x: unknown) => x, { iargs: [[loose]] }),
    {
      code: 'SHMSYNC_INVALID_ARG_VALUE',
      message: /class Unregistered is not registered/,
    },
    'an unregistered subclass as an argument',
  );
  await t.rejects(
    pcall({ object: loose, method: 'ping' }, { iargs: [[]] }),
    {
      code: 'SHMSYNC_INVALID_ARG_VALUE',
      message: /^targets\[0\]\.object .*class Unregistered is not registered/,
    },
    'an unregistered subclass as a method target',
  );
  const device = make(t, lib.Device);
  await t.rejects(pcall({ object: device, method: 'nope' }, { iargs: [[]] }), {
    code: 'SHMSYNC_INVALID_ARG_VALUE',
    message: /^targets\[0\]\.method must be the name of a method of the object \(Device\)/,
  });
  await t.rejects(pcall({ object: { a: 1 }, method: 'a' }, { iargs: [[]] }), {
    code: 'SHMSYNC_INVALID_ARG_TYPE',
    message: /must be a shmsync handle/,
  });

  const misfiled = make(t, lib.Misfiled);
  const err1 = (await pcall({ object: misfiled, method: 'ping' }, { iargs: [[]] }).catch(
    (e: unknown) => e,
  )) as ChildProcessException;
  t.ok(err1 instanceof ChildProcessException, 'a class its module does not register: the call fails');
  t.ok(err1.cause instanceof PcallTargetError, 'with a PcallTargetError from the child');
  t.equal((err1.cause as PcallTargetError).code, 'SHMSYNC_PCALL_TARGET');
  t.match(
    (err1.cause as Error).message,
    /arrived as a plain Lockable, not a Misfiled: class Misfiled is not registered in the child/,
  );

  const ghost = make(t, lib.Ghost);
  const err2 = (await pcall({ object: ghost, method: 'ping' }, { iargs: [[]] }).catch(
    (e: unknown) => e,
  )) as ChildProcessException;
  t.ok(err2.cause instanceof PcallTargetError, 'a class whose module the child cannot load');
  t.match(
    (err2.cause as Error).message,
    /could not load \/nonexistent\/shmsync-ghost\.js, which registers a Lockable class/,
  );
});

t.test('method names that are not methods of the class are refused in the parent (attack-js)', async (t) => {
  const device = make(t, lib.Device);
  // Before: 'constructor' reached the child and failed there ("Class constructor Device cannot be
  // invoked without 'new'"); Object.prototype members ran on the child's copy of the device.
  for (const method of [
    'constructor',
    '__proto__',
    '__defineSetter__',
    'hasOwnProperty',
    'isPrototypeOf',
    'toString',
  ]) {
    await t.rejects(
      pcall({ object: device, method }, { iargs: [['x']] }),
      {
        code: 'SHMSYNC_INVALID_ARG_VALUE',
        message: /^targets\[0\]\.method must be the name of a method of the object \(Device\)/,
      },
      method,
    );
  }
  await t.rejects(
    pcall({ object: device, method: Symbol.iterator as unknown as string }, { iargs: [[]] }),
    { code: 'SHMSYNC_INVALID_ARG_TYPE' },
    'a symbol',
  );
  const [ran] = await pcall<Report>({ object: device, method: 'execute' }, { iargs: [['ok']] });
  t.equal(ran.cmd, 'ok', 'a real method still runs');
});
