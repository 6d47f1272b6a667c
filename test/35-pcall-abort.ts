import t from 'tap';
import { AbortError, pcall, Pcall, ShmQueue } from '../dist';

// pcall's `signal` option: aborting stops the running children like an expired timeout
// (SIGTERM, then SIGKILL) and join() rejects with an AbortError carrying the partial outcome.

t.test('an aborted signal rejects before any child starts', async (t) => {
  const controller = new AbortController();
  controller.abort(new Error('not today'));
  const p = new Pcall((x: number) => x, { iargs: [[1], [2]], signal: controller.signal });
  const err = await p.join().catch((e: unknown) => e);
  t.ok(err instanceof AbortError, 'AbortError');
  t.equal((err as AbortError).code, 'ABORT_ERR');
  t.equal(((err as AbortError).cause as Error).message, 'not today', 'cause is the reason');
  t.same(p.pids, [], 'no child was started');
});

t.test('aborting while children run stops them and rejects with what ran', async (t) => {
  const started = new ShmQueue<number>(undefined, { codec: 'json', capacity: 4096 });
  t.teardown(() => {
    started.close();
    started.unlink();
  });
  const controller = new AbortController();
  const p = new Pcall(
    async (q: ShmQueue<number>, hang: boolean) => {
      await q.put(process.pid);
      if (hang) await new Promise(() => {}); // never returns: only the abort ends it
      return 'done';
    },
    { cargs: [started], iargs: [[false], [true], [true]], signal: controller.signal },
  );
  p.start();
  // Handshake: every child reports before the abort...
  for (let i = 0; i < 3; i++) await started.get({ timeout: 30_000 });
  // ...and call 0 has settled (its result received, its child gone): a report on the queue says
  // only that the child ran, not that the parent has its result yet. `livings` lists exactly the
  // calls an abort would see running; wait (bounded) until call 0 has left it.
  const pid0 = p.pids[0];
  const deadline = Date.now() + 30_000;
  while (p.livings.includes(pid0)) {
    if (Date.now() > deadline) {
      t.fail('call 0 did not settle within 30 s');
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.same(p.livings.length, 2, 'the two hanging calls are still running');
  const joined = p.join().catch((e: unknown) => e);
  controller.abort();
  const err = (await joined) as AbortError & { running: { index: number }[]; results: unknown[]; errors: unknown[] };
  t.ok(err instanceof AbortError, 'AbortError');
  t.same(err.running.map((r) => r.index).sort(), [1, 2], 'the two hanging calls were running');
  t.equal(err.results[0], 'done', 'the finished call keeps its result');
  t.same(p.livings, [], 'no child is left running');
});

t.test('options.signal must be an AbortSignal', async (t) => {
  await t.rejects(
    pcall((x: number) => x, { iargs: [[1]], signal: 'now' as unknown as AbortSignal }),
    {
      code: 'SHMSYNC_INVALID_ARG_TYPE',
      message: /options\.signal must be an AbortSignal/,
    },
  );
});
