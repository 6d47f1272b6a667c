// Argument building of pcall (SEMANTICS.md §1.2 and Decisions 1-3). Pure: builds work lists and
// validates options; no child is ever started here.
import t from 'tap';
import { ArgumentTypeError, OutOfRangeError, Pcall } from '../dist';
import { kRunOptionNames } from '../dist/pcall/options';
import { zipArgs, type CallSpec } from '../dist/pcall/zip-args';

const reserved = new Set(kRunOptionNames);
type Fn = (...args: unknown[]) => unknown;
const build = (targets: unknown, options: Record<string, unknown> = {}): CallSpec[] =>
  zipArgs(targets, options, reserved);
const caught = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
};
const argsOf = (calls: CallSpec[]): unknown[][] => calls.map((c) => [...c.args]);
// The seed's func returns (args, kwargs); func1/2/3 return dict(name=..., arg=args, kwargs=kwargs).
// Decision 1: kwargs travel as one trailing object, present only when a kwargs source is given.
const run = (calls: CallSpec[]): unknown[] => calls.map((c) => (c.target as Fn)(...c.args));
const func = (...a: unknown[]): unknown => a;
const named = (name: string) => ({ [name]: (...a: unknown[]) => ({ name, args: a }) })[name];
const func1 = named('func1');
const func2 = named('func2');
const func3 = named('func3');

t.test('seed row: pcall(add, x=(1,2,3), y=(4,5,6)) returns (5, 7, 9)', async (t) => {
  const add = ({ x, y }: { x: number; y: number }): number => x + y;
  t.same(run(build(add, { x: [1, 2, 3], y: [4, 5, 6] })), [5, 7, 9]);
});

t.test(
  'seed row: cargs=(1,2,3), iargs=((4,),(5,),(6,)) gives (1,2,3,4) (1,2,3,5) (1,2,3,6) and no kwargs',
  async (t) => {
    t.same(argsOf(build(func, { cargs: [1, 2, 3], iargs: [[4], [5], [6]] })), [
      [1, 2, 3, 4],
      [1, 2, 3, 5],
      [1, 2, 3, 6],
    ]);
  },
);

t.test("seed row: ckwargs={'a':1,'b':2}, ikwargs=[{'c':3},{'c':4},{'c':5}] gives kwargs only", async (t) => {
  const calls = build(func, { ckwargs: { a: 1, b: 2 }, ikwargs: [{ c: 3 }, { c: 4 }, { c: 5 }] });
  t.same(argsOf(calls), [[{ a: 1, b: 2, c: 3 }], [{ a: 1, b: 2, c: 4 }], [{ a: 1, b: 2, c: 5 }]]);
});

t.test('seed row: x=(1,2,3), y=(4,5,6), z=(7,8,9) zips into one kwargs object per call', async (t) => {
  const calls = build(func, { x: [1, 2, 3], y: [4, 5, 6], z: [7, 8, 9] });
  t.same(argsOf(calls), [[{ x: 1, y: 4, z: 7 }], [{ x: 2, y: 5, z: 8 }], [{ x: 3, y: 6, z: 9 }]]);
});

const combo = {
  cargs: [1, 2, 3],
  iargs: [
    [6, 7],
    [8, 9],
  ],
  ckwargs: { a: 1, b: 2 },
  ikwargs: [{ c: 3 }, { c: 4 }],
  x: [10, 20],
  y: [100, 200],
};
const comboArgs = [
  [1, 2, 3, 6, 7, { a: 1, b: 2, c: 3, x: 10, y: 100 }],
  [1, 2, 3, 8, 9, { a: 1, b: 2, c: 4, x: 20, y: 200 }],
];

t.test('seed row: every argument kind together makes 2 calls', async (t) => {
  t.same(argsOf(build(func, combo)), comboArgs);
});

t.test('seed row: iargs of 3 and ikwargs of 2 make 2 calls only, no call for (5,6)', async (t) => {
  const calls = build(func, {
    iargs: [
      [1, 2],
      [3, 4],
      [5, 6],
    ],
    ikwargs: [{ a: 1 }, { a: 2 }],
  });
  t.same(argsOf(calls), [
    [1, 2, { a: 1 }],
    [3, 4, { a: 2 }],
  ]);
});

t.test('seed row: [func1,func2,func3] with cargs=[1,2,3], iargs=[[4,5,6],[7,8,9],[9,10,11]]', async (t) => {
  const calls = build([func1, func2, func3], {
    cargs: [1, 2, 3],
    iargs: [
      [4, 5, 6],
      [7, 8, 9],
      [9, 10, 11],
    ],
  });
  t.same(run(calls), [
    { name: 'func1', args: [1, 2, 3, 4, 5, 6] },
    { name: 'func2', args: [1, 2, 3, 7, 8, 9] },
    { name: 'func3', args: [1, 2, 3, 9, 10, 11] },
  ]);
});

t.test('seed row: [func1,func2,func3] with ckwargs and ikwargs c = 3/4/5', async (t) => {
  const calls = build([func1, func2, func3], { ckwargs: { a: 1, b: 2 }, ikwargs: [{ c: 3 }, { c: 4 }, { c: 5 }] });
  t.same(run(calls), [
    { name: 'func1', args: [{ a: 1, b: 2, c: 3 }] },
    { name: 'func2', args: [{ a: 1, b: 2, c: 4 }] },
    { name: 'func3', args: [{ a: 1, b: 2, c: 5 }] },
  ]);
});

t.test('seed row: [func1,func2] with every argument kind, as the single-target combo', async (t) => {
  t.same(run(build([func1, func2], combo)), [
    { name: 'func1', args: comboArgs[0] },
    { name: 'func2', args: comboArgs[1] },
  ]);
});

t.test('seed row: [func1,func2,func3] with iargs of 3 and ikwargs of 2: func3 is not called', async (t) => {
  const calls = build([func1, func2, func3], {
    iargs: [
      [1, 2],
      [3, 4],
      [5, 6],
    ],
    ikwargs: [{ a: 1 }, { a: 2 }],
  });
  t.same(run(calls), [
    { name: 'func1', args: [1, 2, { a: 1 }] },
    { name: 'func2', args: [3, 4, { a: 2 }] },
  ]);
});

t.test('precedence is ckwargs < ikwargs < varkwargs', async (t) => {
  const calls = build(func, { ckwargs: { k: 'c', a: 1 }, ikwargs: [{ k: 'i', b: 2 }], k: ['v'] });
  t.same(argsOf(calls), [[{ k: 'v', a: 1, b: 2 }]]);
  t.same(argsOf(build(func, { ckwargs: { k: 'c' }, ikwargs: [{ k: 'i' }] })), [[{ k: 'i' }]]);
});

t.test('an explicit varkwargs object works like extra option keys, and mixes with them', async (t) => {
  t.same(argsOf(build(func, { varkwargs: { x: [1, 2] }, y: [3, 4] })), [[{ x: 1, y: 3 }], [{ x: 2, y: 4 }]]);
});

t.test('mismatched lengths never throw: the shortest dimension wins', async (t) => {
  t.same(argsOf(build(func, { iargs: [[1], [2], [3], [4]], x: [1, 2] })), [
    [1, { x: 1 }],
    [2, { x: 2 }],
  ]);
  t.same(build([func1, func2, func3], { iargs: [[1]] }).length, 1);
  t.same(build([func1, func2], { iargs: [[1], [2], [3]] }).length, 2, 'targets are a dimension too');
});

t.test('a single target or a list of one is broadcast; a list of two or more is a dimension', async (t) => {
  t.same(
    build(func, { iargs: [[1], [2], [3]] }).map((c) => c.target),
    [func, func, func],
  );
  t.same(
    build([func1], { iargs: [[1], [2]] }).map((c) => c.target),
    [func1, func1],
  );
  t.same(
    build([func1, func2]).map((c) => c.target),
    [func1, func2],
    'targets alone set the number of calls',
  );
  t.same(argsOf(build([func1, func2])), [[], []], 'no arguments and no kwargs object');
});

t.test('module references are targets, alone or in a list', async (t) => {
  const mod = { module: './x.js', export: 'f' };
  t.same(
    build(mod, { iargs: [[1], [2]] }).map((c) => c.target),
    [mod, mod],
  );
  const url = { module: new URL('file:///tmp/x.mjs') };
  t.same(
    build([mod, url]).map((c) => c.target),
    [mod, url],
  );
});

t.test('iargs, ikwargs, varkwargs and targets may be generators, consumed lazily', async (t) => {
  let pulled = 0;
  let closed = false;
  function* naturals(): Generator<number> {
    try {
      for (let i = 0; ; i += 1) {
        pulled += 1;
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  function* rows(): Generator<number[]> {
    yield [10];
    yield [20];
  }
  function* kw(): Generator<Record<string, number>> {
    yield { k: 1 };
    yield { k: 2 };
    yield { k: 3 };
  }
  const calls = build(func, { iargs: rows(), ikwargs: kw(), n: naturals() });
  t.same(argsOf(calls), [
    [10, { k: 1, n: 0 }],
    [20, { k: 2, n: 1 }],
  ]);
  t.equal(pulled, 2, 'the infinite generator was pulled only as far as the zip needed');
  t.ok(closed, 'and closed when the zip stopped');
  function* targets(): Generator<Fn> {
    yield func1;
    yield func2;
    yield func3;
  }
  t.same(
    run(build(targets(), { iargs: [[1], [2], [3]] })).map((r) => (r as { name: string }).name),
    ['func1', 'func2', 'func3'],
  );
});

t.test('iterables are never asked for .length', async (t) => {
  const noLength = (items: unknown[]): Iterable<unknown> & { readonly length: number } => ({
    get length(): number {
      throw new Error('length was read');
    },
    [Symbol.iterator]: () => items[Symbol.iterator](),
  });
  t.same(argsOf(build(func, { cargs: noLength([0]), iargs: noLength([[1], [2]]), x: noLength([3, 4]) })), [
    [0, 1, { x: 3 }],
    [0, 2, { x: 4 }],
  ]);
  t.same(argsOf(build(func, { iargs: new Set([[1]]), x: new Map([[1, 2]]).values() })), [[1, { x: 2 }]]);
});

t.test('an empty per-call dimension makes zero calls', async (t) => {
  t.same(build(func, { iargs: [] }), []);
  t.equal(new Pcall(func, { x: [] }).size, 0);
});

t.test('no per-call dimension at all is a RangeError, not a silent zero-call run', async (t) => {
  const message =
    'the number of calls must be set by a list of two or more targets, options.iargs, options.ikwargs ' +
    'or a keyword argument with per-call values. Received function func';
  t.throws(() => build(func, { cargs: [1], ckwargs: { a: 1 } }), {
    name: 'RangeError',
    code: 'SHMSYNC_OUT_OF_RANGE',
    message,
  });
  t.throws(() => new Pcall(func), { name: 'RangeError', code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => new Pcall([func1], { timeout: 10 }), { code: 'SHMSYNC_OUT_OF_RANGE' });
  t.ok(caught(() => new Pcall(func)) instanceof OutOfRangeError, 'an OutOfRangeError');
});

t.test('bad targets are TypeErrors (RangeError for an empty list)', async (t) => {
  t.throws(() => build('func', { x: [1] }), {
    name: 'TypeError',
    code: 'SHMSYNC_INVALID_ARG_TYPE',
    message:
      'targets must be a function, a module reference { module, export } or a list of them. Received type string ("func")',
  });
  t.ok(caught(() => build(null, { x: [1] })) instanceof ArgumentTypeError, 'an ArgumentTypeError');
  t.throws(() => build([], { x: [1] }), { name: 'RangeError', code: 'SHMSYNC_OUT_OF_RANGE' });
  t.throws(() => build([func1, 42]), {
    message:
      'targets[1] must be a function, a module reference { module, export } or a method target { object, method }. Received type number (42)',
  });
  t.throws(() => build({ module: '' }, { x: [1] }), {
    message: 'targets.module must be a non-empty string or a URL. Received type string ("")',
  });
  t.throws(() => build({ module: 'x', exports: 'f' }, { x: [1] }), {
    message: /^targets\.exports must be spelled 'export'/,
  });
  t.throws(() => build({ module: 'x', export: 1 }, { x: [1] }), {
    message: 'targets.export must be a string. Received type number (1)',
  });
});

t.test(
  'Maps are keyword mappings too (ckwargs, each ikwargs element, varkwargs); non-string keys are TypeErrors',
  async (t) => {
    // Before: a Map was spread as an object and every keyword was silently lost ({}).
    const calls = build(func, {
      ckwargs: new Map<string, unknown>([
        ['a', 1],
        ['b', 2],
      ]),
      ikwargs: [new Map([['c', 3]]), { c: 4 }],
    });
    t.same(argsOf(calls), [[{ a: 1, b: 2, c: 3 }], [{ a: 1, b: 2, c: 4 }]]);
    t.same(argsOf(build(func, { varkwargs: new Map([['x', [1, 2]]]) })), [[{ x: 1 }], [{ x: 2 }]]);
    const proto = build(func, { ckwargs: new Map([['__proto__', 1]]), x: [0] });
    const kw = proto[0].args[0] as Record<string, unknown>;
    t.equal(Object.getPrototypeOf(kw), Object.prototype, "a '__proto__' key stays a keyword");
    t.ok(Object.prototype.hasOwnProperty.call(kw, '__proto__'), "'__proto__' is an own keyword");
    t.throws(() => build(func, { ckwargs: new Map([[1, 'a']]), x: [1] }), {
      name: 'TypeError',
      code: 'SHMSYNC_INVALID_ARG_TYPE',
      message: 'options.ckwargs keys must be strings (keyword names). Received type number (1)',
    });
    t.throws(() => build(func, { ikwargs: [new Map([[Symbol('s'), 1]])] }), {
      message: /^options\.ikwargs\[0\] keys must be strings/,
    });
  },
);

t.test('bad argument options are TypeErrors with the one message template', async (t) => {
  t.throws(() => build(func, { iargs: [[1], 5] }), {
    name: 'TypeError',
    message: 'options.iargs[1] must be an iterable of arguments (an array). Received type number (5)',
  });
  t.throws(() => build(func, { iargs: ['ab'] }), { message: /^options\.iargs\[0\] must be an iterable of arguments/ });
  t.throws(() => build(func, { iargs: 3 }), {
    message: 'options.iargs must be an iterable of argument lists. Received type number (3)',
  });
  t.throws(() => build(func, { ikwargs: [{}, [1]] }), {
    message: 'options.ikwargs[1] must be an object or a Map with string keys. Received an instance of Array',
  });
  t.throws(() => build(func, { cargs: 'abc', x: [1] }), {
    message: /^options\.cargs must be an iterable of arguments/,
  });
  t.throws(() => build(func, { ckwargs: [1], x: [1] }), {
    message: 'options.ckwargs must be an object or a Map with string keys. Received an instance of Array',
  });
  t.throws(() => build(func, { varkwargs: { x: [1] }, x: [2] }), { message: /^options\.x must be given once/ });
  t.throws(() => build(func, { name: 'abc' }), {
    message:
      'options.name must be an iterable of per-call values, as every option that is not a pcall option is a keyword argument. Received type string ("abc")',
  });
  t.throws(() => build(func, { timout: 100, x: [1] }), {
    message:
      'options.timout must be an iterable of per-call values, as every option that is not a pcall option is a keyword argument (did you mean options.timeout?). Received type number (100)',
  });
});

t.test('reserved options with the wrong type are TypeErrors, never keyword arguments', async (t) => {
  const iargs = [[1]];
  t.throws(() => new Pcall(func, { iargs, timeout: '5' as never }), {
    name: 'TypeError',
    message: 'options.timeout must be a number of milliseconds. Received type string ("5")',
  });
  t.throws(() => new Pcall(func, { iargs, timeout: -1 }), { name: 'RangeError' });
  t.throws(() => new Pcall(func, { iargs, mode: 'fork' as never }), {
    name: 'TypeError',
    message: "options.mode must be one of 'process', 'thread'. Received type string (\"fork\")",
  });
  t.throws(() => new Pcall(func, { iargs, env: 5 as never }), {
    message: 'options.env must be an object. Received type number (5)',
  });
  t.throws(() => new Pcall(func, { iargs, env: { A: 1 } as never }), {
    message: 'options.env.A must be a string. Received type number (1)',
  });
  t.throws(() => new Pcall(func, { iargs, execArgv: '--x' as never }), {
    message: 'options.execArgv must be an array of strings. Received type string ("--x")',
  });
  t.throws(() => new Pcall(func, { iargs, cwd: '/', mode: 'thread' }), {
    message: /^options\.cwd must be used with mode 'process' only/,
  });
  t.throws(() => new Pcall(func, { iargs, log: 'file' as never }), {
    message: "options.log must be one of 'inherit', 'capture'. Received type string (\"file\")",
  });
  t.throws(() => new Pcall(func, { iargs, log: 'inherit', logDir: '/tmp' }), {
    message: /^options\.log must be 'capture'/,
  });
  t.throws(() => new Pcall(func, { iargs, pool: {} as never }), {
    message: 'options.pool must be a ProcessPool. Received an instance of Object',
  });
  t.throws(() => new Pcall(func, 'x' as never), { message: 'options must be an object. Received type string ("x")' });
});

t.test('targets that cannot be shipped and arguments that cannot be cloned fail in the constructor', async (t) => {
  t.throws(() => new Pcall(func.bind(null), { iargs: [[1]] }), {
    name: 'TypeError',
    message: /^targets\[0\] must be a function with source text \(not bound or native\)/,
  });
  t.ok(
    caught(() => new Pcall(Math.max, { iargs: [[1]] })) instanceof ArgumentTypeError,
    'a native function is refused',
  );
  t.throws(() => new Pcall(class A {} as never, { iargs: [[1]] }), {
    message: /^targets\[0\] must be a function, not a class/,
  });
  t.throws(() => new Pcall(func, { iargs: [[1], [() => 1]] }), {
    name: 'TypeError',
    message: /^the arguments of call 1 must be structured-cloneable \(.*could not be cloned/,
  });
});

t.test('a Pcall is built but not started by its constructor', async (t) => {
  const p = new Pcall(func, { iargs: [[1], [2]] });
  t.equal(p.size, 2);
  t.equal(p.results, undefined);
  t.same(p.pids, []);
  t.same(p.livings, []);
});
