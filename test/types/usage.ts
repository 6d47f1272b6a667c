// Type-level test of the shipped declarations (dist/*.d.ts): compiled by `npm run test:types`,
// never run. Each line fails to compile if a public type regresses.
import {
  AbortError,
  ChildProcessException,
  Lockable,
  Mutex,
  MutexGuard,
  ProcessPool,
  ReadOnly,
  SharedMemory,
  SharedValue,
  ShmQueue,
  ShmsyncError,
  TimeoutError,
  pcall,
  type MutexInfo,
  type QueueInfo,
} from '../../dist';

async function usage(): Promise<void> {
  const m = new Mutex('types', { onOwnerDeath: 'strict' });
  const ok: boolean = m.acquireSync({ blocking: false, timeout: 10 });
  if (ok) m.release();
  const guard: MutexGuard = await m.acquire({ timeout: 5, signal: AbortSignal.timeout(10) });
  const fence: bigint = guard.fence;
  const died: boolean = guard.ownerDied;
  guard.release();
  const n: number = await m.withLock(async () => 42);
  const info: MutexInfo = m.info();
  void [fence, died, n, info.acquisitions satisfies bigint];

  const q = new ShmQueue<{ id: number }>('types-q', { codec: 'json', capacity: 1 << 16 });
  await q.put({ id: 1 });
  const item: { id: number } = await q.get({ timeout: 10 });
  const many: { id: number }[] = await q.getMany(10);
  const maybe: { id: number } | undefined = q.tryGet();
  void [item, many, maybe];
  for await (const v of q) void (v.id satisfies number);
  const qinfo: QueueInfo = q.info();
  const ended: boolean = q.ended && qinfo.ended;
  q.end(); // ends the stream for every process
  q.close(); // releases this handle only
  const released: boolean = q.closed;
  void [ended, released];
  // @ts-expect-error detach() was renamed close() (pre-1.0, no alias)
  q.detach();
  // @ts-expect-error info() reports `ended`, not the native `closed`
  void q.info().closed;

  const shm = new SharedMemory(undefined, { size: 64 });
  const bytes: Uint8Array = shm.buffer;
  void bytes;

  const counter = new SharedValue({ type: 'int64' });
  const total: bigint = counter.add(1n);
  void total;

  class Account extends Lockable {}
  void new Account();

  const results: number[] = await pcall<number>((x: number) => x * 2, { iargs: [[1], [2]] });
  await using pool = new ProcessPool({ size: 1 });
  void [results, pool];

  try {
    await q.get();
  } catch (err) {
    if (err instanceof ReadOnly || err instanceof TimeoutError || err instanceof AbortError) {
      const code: string = (err as ShmsyncError).code;
      void code;
    }
    if (err instanceof ChildProcessException) void err;
  }
}
void usage;
