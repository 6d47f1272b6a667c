/**
 * Issue 9 item 4 (JS side): shared memory is hostile. For every kind of object, a rogue child
 * process rewrites header and state fields in a loop (random and adversarial values, written with
 * pwrite into the same tmpfs pages this process has mapped) while this process runs every
 * operation of the kind. Each operation must succeed or throw a coded `SHMSYNC_*` error; the
 * process must not crash or hang (every wait has a timeout; the whole file takes a few seconds).
 * The native suite has the same test under ASan (native/test/corruption-test.cc).
 *
 * Not corrupted: the deadman pthread mutexes inside owner-table slots (glibc robust-list
 * pointers; issue 9 item 5, docs/troubleshooting.md).
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { testName } from './helpers/shm';

// A private owner table: this file corrupts it, so no other test file may share it. Set before
// the addon first opens a table (it reads the variable once).
const ownerTable = `test-owners-corrupt-${process.pid}-${randomBytes(3).toString('hex')}`;
process.env.SHMSYNC_OWNER_TABLE = ownerTable;

const { Mutex, RwLock, SharedMemory, SharedValue, SharedArray, ShmQueue } =
  require('../dist') as typeof import('../dist');
import { Child } from './helpers/fork';

/** A coded shmsync error (any SHMSYNC_* code, including argument errors). */
const isShmsyncError = (err: unknown): boolean =>
  err instanceof Error &&
  typeof (err as unknown as { code?: unknown }).code === 'string' &&
  (err as unknown as { code: string }).code.startsWith('SHMSYNC_');

const kHeader = 64; // SegmentHeader (native/core/layout.h)
const kRaceMs = 300; // per kind
const seed = () => BigInt(`0x${randomBytes(7).toString('hex')}`);

// One rogue process for the whole file (started once: process start-up dominates otherwise).
const flipperSeed = seed();
t.comment(`flipper seed ${flipperSeed}`);
const flipper = new Child('corrupt-flipper.js', [String(flipperSeed)]);
const flipperReady = flipper.message('ready');

t.teardown(async () => {
  flipper.send({ type: 'exit' });
  await flipper.exited;
  try {
    SharedMemory.unlink(ownerTable);
  } catch {
    /* not created */
  }
});

/** Runs `ops` repeatedly for kRaceMs while the flipper rewrites `ranges` of the segment file. */
async function underFire(
  t: Test,
  segmentFile: string,
  ranges: Array<[number, number]>,
  ops: Array<[string, () => unknown]>,
): Promise<void> {
  await flipperReady;
  flipper.send({ type: 'flip', file: `/dev/shm/${segmentFile}`, ranges });
  await flipper.message('flipping');
  const outcomes = new Map<string, Set<string>>();
  const bad: string[] = [];
  const end = Date.now() + kRaceMs;
  let rounds = 0;
  while (Date.now() < end) {
    for (const [name, op] of ops) {
      let outcome = 'ok';
      try {
        const r = op();
        if (r instanceof Promise) await r;
      } catch (err) {
        outcome = isShmsyncError(err)
          ? (err as { code: string }).code
          : `UNCODED ${(err as Error)?.name}: ${(err as Error)?.message}`;
        if (!isShmsyncError(err) && bad.length < 5) bad.push(`${name}: ${outcome}`);
      }
      if (!outcomes.has(name)) outcomes.set(name, new Set());
      outcomes.get(name)!.add(outcome);
    }
    rounds++;
    if (rounds % 20 === 0) await new Promise((r) => setImmediate(r)); // let IPC and grants in
  }
  flipper.send({ type: 'pause' });
  const paused = await flipper.message<{ type: string; flips: number }>('paused');
  t.ok(paused.flips > 100, `the flipper rewrote fields ${paused.flips} times during ${rounds} rounds`);
  t.same(bad, [], 'every failure is a coded SHMSYNC_* error');
  t.comment([...outcomes].map(([n, s]) => `${n}: ${[...s].join(' | ')}`).join('\n'));
}

/** `fn()` returns, or throws a coded SHMSYNC_* error: never an uncoded throw. */
function answersWithCode(t: Test, fn: () => unknown): void {
  try {
    fn();
    t.pass('the handle still answers');
  } catch (err) {
    t.ok(isShmsyncError(err), `the handle still answers, with a code (${(err as { code?: string }).code})`);
  }
}

const codedOrOk = (fn: () => unknown) => (): unknown => fn();
const quietly = async (p: Promise<unknown>): Promise<void> => {
  try {
    await p;
  } catch (err) {
    if (!isShmsyncError(err)) throw err;
  }
};

t.test('SharedMemory: header rewritten after open', async (t) => {
  const name = testName('corrupt-shm');
  const shm = new SharedMemory(name, { size: 4096, create: 'create' });
  t.teardown(() => {
    shm.close();
    SharedMemory.unlink(name);
  });
  await underFire(
    t,
    `shmsync-${name}`,
    [[0, kHeader]],
    [
      [
        'size',
        () => {
          if (shm.size !== 4096) throw new Error(`size changed to ${shm.size}`);
        },
      ],
      [
        'buffer',
        () => {
          shm.buffer.fill(7);
          if (shm.buffer.length !== 4096) throw new Error('buffer length changed');
        },
      ],
      [
        'read/write',
        () => {
          shm.write(Buffer.alloc(4096, 1));
          shm.read(0, 4096);
        },
      ],
      [
        'reopen',
        () => {
          const o = new SharedMemory(name, { create: 'open' });
          const n = o.size;
          o.close();
          if (n !== 4096) throw new Error(`reopened with size ${n}`);
        },
      ],
    ],
  );
});

t.test('Mutex: lock state rewritten after open', async (t) => {
  const name = testName('corrupt-mutex');
  const m = new Mutex(name, { create: 'create' });
  t.teardown(() => {
    m.close();
    Mutex.unlink(name);
  });
  await underFire(
    t,
    `shmsync-${name}`,
    [[kHeader, 128]],
    [
      [
        'tryAcquire/release',
        () => {
          if (m.tryAcquire()) m.release();
        },
      ],
      [
        'acquireSync',
        () => {
          if (m.acquireSync({ timeout: 2 })) m.release();
        },
      ],
      [
        'acquire',
        async () => {
          const g = await m.acquire({ timeout: 5 });
          g.release();
        },
      ],
      ['withLockSync', () => m.withLockSync(() => 1, { timeout: 2 })],
      ['info', () => m.info()],
      ['reopen', () => new Mutex(name, { create: 'open' }).close()],
    ],
  );
  // Whatever state the rogue left, the handle still answers: a result or a coded error.
  answersWithCode(t, () => m.info());
});

t.test('RwLock: guard, control line, entry table and label rewritten after open', async (t) => {
  const name = testName('corrupt-rwlock');
  const rw = new RwLock(name, { create: 'create' });
  t.teardown(() => {
    rw.close();
    RwLock.unlink(name);
  });
  const release = () => {
    try {
      rw.release();
    } catch (err) {
      if (!isShmsyncError(err)) throw err; // the rogue freed our entry: SHMSYNC_NOT_OWNER
    }
  };
  await underFire(
    t,
    `shmsync-${name}`,
    [[kHeader, 3264]], // RwLockState (native/core/rw-lock-layout.h)
    [
      ['tryAcquireShared/release', () => rw.tryAcquireShared() && release()],
      ['tryAcquireExclusive/release', () => rw.tryAcquireExclusive() && release()],
      ['acquireExclusiveSync', () => rw.acquireExclusiveSync({ timeout: 2 }) && release()],
      [
        'acquireShared',
        async () => {
          const g = await rw.acquireShared({ timeout: 5 });
          g.release();
        },
      ],
      ['info', () => rw.info()],
      ['reopen', () => new RwLock(name, { create: 'open' }).close()],
    ],
  );
  // Whatever state the rogue left (its last writes are not undone: a guard or entry it left
  // forged reads as SHMSYNC_CORRUPT), the handle still answers: a result or a coded error.
  answersWithCode(t, () => rw.info());
});

t.test('ShmQueue: ring state, configuration, locks and records rewritten after open', async (t) => {
  const name = testName('corrupt-queue');
  const capacity = 4096;
  const q = new ShmQueue<unknown>(name, { create: 'create', capacity, maxMessageSize: 1000 });
  const raw = new ShmQueue<Uint8Array>(name, { create: 'open', codec: 'raw' });
  t.teardown(() => {
    q.close();
    raw.close();
    ShmQueue.unlink(name);
  });
  const payload = { a: new Float64Array([1, 2, 3]), s: 'x'.repeat(100) };
  await underFire(
    t,
    `shmsync-${name}`,
    [
      [kHeader, 512],
      [kHeader + 128, 16],
      [kHeader + 512, capacity],
    ],
    [
      ['tryPut', () => q.tryPut(payload)],
      ['tryGet', () => q.tryGet()],
      ['putSync', () => q.putSync(payload, { timeout: 2 })],
      ['getSync', () => q.getSync({ timeout: 2 })],
      ['put', () => q.put(payload, { timeout: 5 })],
      ['get', () => quietly(q.get({ timeout: 5 }))],
      ['getMany', () => quietly(q.getMany(4, { timeout: 5 }))],
      [
        'raw put/get',
        () => {
          raw.tryPut(Buffer.alloc(200, 3));
          raw.tryGet();
        },
      ],
      ['info', () => q.info()],
      [
        'reopen',
        codedOrOk(() => {
          const o = new ShmQueue(name, { create: 'open' });
          const c = o.capacity;
          o.close();
          // Item 2: a racing configuration is refused or read intact, never accepted half-changed.
          if (c !== capacity) throw new Error(`reopened with capacity ${c}`);
        }),
      ],
    ],
  );
});

t.test('SharedValue and SharedArray: headers rewritten after open', async (t) => {
  const vname = testName('corrupt-value');
  const aname = testName('corrupt-array');
  const v = new SharedValue(vname, { type: 'int64', lock: true });
  const a = new SharedArray(aname, { type: 'float64', length: 64 });
  // unlink() through the handles: they kept the lock name read at open (the header is garbage now).
  t.teardown(() => {
    v.unlink();
    a.unlink();
    v.close();
    a.close();
  });
  // 256-byte object header after the segment header; the value/elements themselves are data.
  await underFire(
    t,
    `shmsync-${vname}`,
    [[kHeader, 256 + 8]],
    [
      [
        'value',
        () => {
          v.value = 5n;
          v.add(1n);
          return v.value;
        },
      ],
      [
        'reopen value',
        () => {
          const o = new SharedValue(vname);
          const ty = o.type;
          o.close();
          if (ty !== 'int64') throw new Error(`type ${ty}`);
        },
      ],
      ['lock', () => v.lock!.withLockSync(() => 1, { timeout: 2 })],
    ],
  );
  await underFire(
    t,
    `shmsync-${aname}`,
    [[kHeader, 256]],
    [
      [
        'array',
        () => {
          a.array.fill(1.5);
          if (a.array.length !== 64 || a.length !== 64) throw new Error('length changed');
        },
      ],
      [
        'reopen array',
        () => {
          const o = new SharedArray(aname);
          const n = o.length;
          o.close();
          if (n !== 64) throw new Error(`length ${n}`);
        },
      ],
    ],
  );
});

t.test('owner table: header and slot bookkeeping rewritten while locks are used', async (t) => {
  const name = testName('corrupt-owners');
  const m = new Mutex(name, { create: 'create' });
  t.teardown(() => {
    m.close();
    Mutex.unlink(name);
  });
  // Table header (capacity, hint, id), then the generation/pid/tid/thread words of the first
  // 64 slots (bytes 40..56 of each 64-byte slot; the pthread deadman at 0..40 is left alone).
  const ranges: Array<[number, number]> = [[kHeader, 64]];
  for (let slot = 0; slot < 64; slot++) ranges.push([kHeader + 64 + slot * 64 + 40, 16]);
  await underFire(t, `shmsync-${ownerTable}`, ranges, [
    [
      'tryAcquire/release',
      () => {
        if (m.tryAcquire()) m.release();
      },
    ],
    [
      'acquireSync',
      () => {
        if (m.acquireSync({ timeout: 2 })) m.release();
      },
    ],
    [
      'acquire',
      async () => {
        const g = await m.acquire({ timeout: 5 });
        g.release();
      },
    ],
    ['info', () => m.info()],
    [
      'new mutex',
      () => {
        const o = new Mutex(testName('corrupt-owners-x'), { create: 'create' });
        o.unlink();
        o.close();
      },
    ],
  ]);
});
