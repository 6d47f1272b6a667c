// Graph and Task: the seed's test_graph.py, its documented edge rules (self edge, cycles,
// transitive shortcut edges rejected; diamond allowed; the DFS order), and Task.process() on its
// own (SEMANTICS.md §2.4, §2.5; Decision 12: constructor arguments honoured, integer chunking).
import t from 'tap';
import {
  ChannelTask,
  Graph,
  GraphCycleError,
  IteratorTask,
  Node,
  Pool,
  ReadOnly,
  Task,
  TaskRegisteredError,
} from '../dist';
import { chunksOf } from '../dist/pool/pool';

t.test('test_graph: add, remove, chain, self edge, cycles, re-adding, removal, DFS order', async (t) => {
  const g = new Graph();
  const nn = 10;
  for (let i = 0; i < nn; i += 1) t.ok(g.addNode(new Node()) instanceof Node);
  t.equal(g.nodes.length, nn);
  for (const n of [...g.nodes]) g.removeNode(n);
  t.equal(g.nodes.length, 0);

  let last: Node | undefined;
  let chainOk = true;
  for (let i = 0; i < nn; i += 1) {
    const n = g.addNode(new Node(i));
    if (last) {
      chainOk &&= last.outNodes.length === 0 && n.inNodes.length === 0;
      chainOk &&= g.addEdge(last, n) === g;
      chainOk &&= last.outNodes[0] === n && n.inNodes[0] === last;
    }
    last = n;
  }
  t.ok(chainOk, 'a chain of 10 nodes, addEdge returns the graph');
  t.throws(() => g.addEdge(last as Node, last as Node), { code: 'SHMSYNC_GRAPH_CYCLE' }, 'self edge');
  t.throws(() => g.addEdge(g.nodes[0], g.nodes[nn - 1]), GraphCycleError, 'shortcut edge first -> last');
  t.throws(() => g.addEdge(g.nodes[nn - 1], g.nodes[0]), GraphCycleError, 'cycle last -> first');

  const [n1, n2, n3] = g.nodes;
  g.addEdge(n1, n2); // already connected
  g.addEdge(n2, n1); // same thing, the other way round: no-op
  t.equal(n1.outNodes.length, 1);
  t.equal(n1.inNodes.length, 0);
  t.equal(n2.inNodes.length, 1);
  t.equal(n2.outNodes.length, 1);

  t.equal(n3.inNodes[0], n2);
  t.equal(g.removeNode(n2), g);
  t.equal(g.removeNode(n2), g, 'multi-deletion is fine');
  t.equal(g.nodes.length, nn - 1);
  t.equal(n3.inNodes.length, 0);
  t.equal(n1.outNodes.length, 0);
  t.same([n2.inNodes.length, n2.outNodes.length], [0, 0], 'a removed node has no edges');

  const end = g.nodes[g.nodes.length - 1];
  const dfirst = g.inputInclusiveDfirstReversed(end);
  t.equal(dfirst.length, nn - 2, 'the first node is disconnected now');
  t.equal(dfirst[dfirst.length - 1], end, 'the node itself comes last');
  t.equal(dfirst[dfirst.length - 2].id, (end.id as number) - 1);
  t.same(dfirst.map((n) => n.id), [2, 3, 4, 5, 6, 7, 8, 9], 'dependency order for a chain');
});

t.test('shortcut edges are rejected, a diamond is allowed, and its DFS order is not topological', async (t) => {
  const g = new Graph();
  const [a, b, c, d] = ['A', 'B', 'C', 'D'].map((id) => g.addNode(new Node(id)));
  g.addEdge(a, b).addEdge(b, c);
  t.throws(() => g.addEdge(a, c), { code: 'SHMSYNC_GRAPH_CYCLE', message: /would create a cycle/ }, 'a->b->c, a->c');
  t.throws(() => g.addEdge(c, a), GraphCycleError, 'c->a closes a cycle');
  const h = new Graph();
  const [A, B, C, D] = ['A', 'B', 'C', 'D'].map((id) => h.addNode(new Node(id)));
  h.addEdge(A, B).addEdge(A, C).addEdge(B, D);
  t.doesNotThrow(() => h.addEdge(C, D), 'diamond');
  t.same(h.inputInclusiveDfirstReversed(D).map(String), ['B', 'A', 'C', 'D'], 'the seed order (B before its input A)');
  t.equal(String(A), 'A', 'toString is the id');
});

t.test('integer chunking (Decision 12): the remainder chunk is kept', async (t) => {
  t.same(chunksOf(502, 250), [250, 250, 2], 'read(502), chunk 250');
  t.same(chunksOf(500, 250), [250, 250]);
  t.same(chunksOf(498, 250), [250, 248]);
  t.same(chunksOf(100, 0), [100], 'no chunk size');
  t.same(chunksOf(100, 250), [100], 'smaller than a chunk');
  t.same(chunksOf(0, 250), [0], 'count 0: one chunk of everything');
});

t.test('Task: constructor arguments, accessors, validation', async (t) => {
  const task = new Task('id', (x: number) => x, { applySingle: false, minCount: 5, maxChunksize: 3 });
  t.equal(task.id, 'id');
  t.equal(task.applySingle, false);
  t.equal(task.minCount, 5, 'minCount honoured (the seed dropped it)');
  t.equal(task.maxChunksize, 3, 'maxChunksize honoured (the seed dropped it)');
  const plain = new Task('plain', null);
  t.same([plain.applySingle, plain.minCount, plain.maxChunksize, plain.fn], [true, null, 0, undefined]);
  t.equal(plain.writer(), undefined);
  t.equal(plain.isClosed(), false);
  t.equal(plain.error(), undefined);
  t.notOk(plain.isDone());
  plain.setDone();
  t.ok(plain.isDone());
  t.throws(() => new Task('x', null, { minCount: -1 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new Task('x', null, { applySingle: 'yes' as unknown as boolean }), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => new ChannelTask(42 as never, 'x'), { code: 'SHMSYNC_INVALID_ARG_TYPE' });
  t.throws(() => new IteratorTask(42 as never, 'x'), TypeError, 'not an iterator');
});

t.test('Task.process(): done rules, failure closes the output, ReadOnly is not kept', async (t) => {
  const p = new Pool(0);
  // done when a read returns fewer items than asked for
  const task = new IteratorTask([1, 2, 3, 4, 5], 'five', (x: number) => x * 10);
  const rc = p.addTask(task);
  await task.process(2);
  t.notOk(task.isDone(), '2 of 2');
  await task.process(2);
  t.notOk(task.isDone(), '4 of 5');
  await task.process(2);
  t.ok(task.isDone(), 'only 1 of 2: done');
  t.ok(task.isClosed(), 'done with no other writer: output closed');
  t.same(await rc.read(), [10, 20, 30, 40, 50]);
  // process(0) always ends the task
  const t0 = new IteratorTask([1], 'one');
  p.addTask(t0);
  await t0.process(0);
  t.ok(t0.isDone() && t0.isClosed());
  // a failure: done, closed, error kept, process() does not throw
  const boom = new IteratorTask([1, 2, 3], 'boom', (x: number) => {
    if (x === 2) throw new SyntaxError('two');
    return x;
  });
  const rb = p.addTask(boom);
  await t.resolves(boom.process(3));
  t.ok(boom.error() instanceof SyntaxError);
  t.ok(boom.isDone() && boom.isClosed());
  t.same(await rb.read(), [1], 'the item before the failure was written');
  // a chunk that finds the output closed by another failed chunk: ReadOnly is not stored
  const late = new IteratorTask([1, 2], 'late', (x: number) => x);
  p.addTask(late);
  late.close();
  await late.process(1);
  t.equal(late.error(), undefined, 'ReadOnly (another chunk failed first) is not an error of the task');
  t.ok(late.isDone());
  t.ok(ReadOnly, 'ReadOnly is exported');
  await p.close();
});

t.test('a ChannelTask belongs to one pool', async (t) => {
  const p1 = new Pool(0);
  const p2 = new Pool(0);
  const r = p1.addTask(new IteratorTask([1, 2], 'feed'));
  const ct = new ChannelTask(r, 'ct', (x: number) => x);
  p1.addTask(ct);
  t.equal(ct.pool(), p1);
  t.throws(() => p2.addTask(ct), TaskRegisteredError);
  t.throws(() => p2.addTask(ct), { code: 'SHMSYNC_TASK_REGISTERED' });
  // a task with its own writer: the pool reads that writer's channel
  await p1.close();
  t.throws(() => p1.addTask(new IteratorTask([1], 'x')), { code: 'SHMSYNC_CLOSED' }, 'a closed pool takes no tasks');
});
