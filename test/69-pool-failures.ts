// Pool failures and process mode: an error in a worker comes back with its remote stack
// (pcall's error codec); a worker thread or child process killed mid-task gives the reader an
// error and a closed output, never a hang; a failure after N items returns exactly N in process
// mode too; module-reference task functions; close() leaves no child process behind.
import t from 'tap';
import * as path from 'node:path';
import { ChannelTask, ChildProcessException, IteratorTask, Pool, RemoteException, ShmQueue, ThreadPool } from '../dist';
import { alive } from './helpers/procs';

delete process.env.NODE_OPTIONS; // tap's loader hooks would slow every child's start
const fns = path.join(__dirname, 'fixtures', 'pool-fns.js');

t.test('a worker error comes back as its class with the remote stack; the items before it are written', async (t) => {
  const p = new ThreadPool(1);
  const task = new IteratorTask([1, 2, 3, 4], 'remote-fail', function remoteFail(x: number) {
    if (x === 3) throw new TypeError(`bad item ${x}`);
    return x * 10;
  });
  const rc = p.addTask(task);
  t.same(await rc.read(), [10, 20], 'the results before the failure');
  const err = task.error() as Error;
  t.ok(err instanceof TypeError, 'rebuilt as TypeError');
  t.equal(err.message, 'bad item 3');
  t.ok(err.cause instanceof RemoteException, 'cause: RemoteException');
  t.match((err.cause as RemoteException).remoteStack, /remoteFail/, 'the remote stack names the task function');
  t.ok(task.isDone() && task.isClosed());
  // a function using a closure variable gets pcall's explanation
  const factor = 3;
  const closure = new IteratorTask([1], 'closure', (x: number) => x * factor);
  t.same(await p.addTask(closure).read(), []);
  t.match(String(closure.error()), /closures are not supported/);
  await p.close();
});

t.test('a worker thread that dies mid-task: the reader gets an error, never a hang; the pool goes on', async (t) => {
  const p = new ThreadPool(1);
  const feed = p.addTask(new IteratorTask([1, 2, 3], 'feed'));
  const dying = new ChannelTask(feed, 'dying', (x: number) => {
    if (x === 2) process.exit(7); // ends the worker thread mid-chunk
    return x;
  });
  const rd = p.addTask(dying);
  const after = p.addTask(new ChannelTask(rd, 'after', (x: number) => x));
  t.same(await after.read(), [], 'downstream of the dead worker: empty, not hung');
  const err = dying.error() as ChildProcessException;
  t.ok(err instanceof ChildProcessException, 'error(): ChildProcessException');
  t.equal(err.exitCode, 7);
  t.ok(dying.isClosed() && dying.isDone());
  t.equal(after.task().error(), undefined, 'the downstream task just ends');
  const next = new IteratorTask([5, 6], 'next', (x: number) => x + 1);
  t.same(await p.addTask(next).read(), [6, 7], 'a replacement worker runs the next task');
  await p.close();
});

t.test('process mode: module-reference functions in child processes, a chain, a failure after N', async (t) => {
  const p = new Pool(2, { mode: 'process' });
  t.equal(p.mode, 'process');
  const pids = p.workerIds();
  t.equal(pids.length, 2);
  t.ok(
    pids.every((pid) => pid !== process.pid && alive(pid)),
    'two child processes',
  );
  const feed = p.addTask(new IteratorTask([...Array(1000).keys()], 'feed', null, { maxChunksize: 250 }));
  const dbl = p.addTask(new ChannelTask(feed, 'double', { module: fns, export: 'double' }));
  const items = (await dbl.read()) as Array<{ value: number; pid: number }>;
  t.equal(items.length, 1000, '1 000 items');
  t.same(
    items.map((i) => i.value).sort((a, b) => a - b),
    [...Array(1000).keys()].map((i) => i * 2),
    'every item doubled once',
  );
  t.ok(
    items.every((i) => pids.includes(i.pid)),
    'computed in the pool children',
  );
  const failing = new IteratorTask([...Array(1000).keys()], 'fail', { module: fns, export: 'failAt300' });
  t.equal((await p.addTask(failing).read()).length, 300, 'failure after 300 items returns exactly 300');
  const err = failing.error() as Error;
  t.equal(err.constructor.name, 'PoolFixtureError', "rebuilt as the module's own error class");
  t.match((err.cause as RemoteException).remoteStack, /failAt300/);
  await p.close();
  t.same(
    pids.filter((pid) => alive(pid)),
    [],
    'close(): no child process left',
  );
});

t.test('process mode: a child SIGKILLed mid-task (by the test, after a handshake) fails the task', async (t) => {
  const p = new Pool(1, { mode: 'process' });
  const q = new ShmQueue<string>(undefined, { capacity: 4096 });
  t.teardown(() => {
    q.close();
    ShmQueue.unlink(q.name);
  });
  const task = new IteratorTask([q], 'blocker', { module: fns, export: 'blockUntilKilled' });
  const rc = p.addTask(task);
  const reading = rc.read();
  t.equal(await q.get(), 'started', 'the child is inside the task function');
  const [pid] = p.workerIds();
  process.kill(pid, 'SIGKILL');
  t.same(await reading, [], 'the reader wakes with nothing');
  const err = task.error() as ChildProcessException;
  t.ok(err instanceof ChildProcessException);
  t.equal(err.signal, 'SIGKILL');
  t.ok(task.isClosed());
  const self = new IteratorTask([1], 'self-kill', () => process.kill(process.pid, 'SIGKILL'));
  t.same(await p.addTask(self).read(), [], 'a child killing itself: same');
  t.equal((self.error() as ChildProcessException).signal, 'SIGKILL');
  const ids = p.workerIds();
  await p.close();
  t.same(
    ids.filter((pid) => alive(pid)),
    [],
    'no orphan after close()',
  );
});
