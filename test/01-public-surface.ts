import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import * as shmsync from '../dist';

// The public surface is what docs/api.md documents: every runtime export and every exported type
// of the package entry is named in the reference (a heading, or the first cell of a table row),
// and every class or function the reference gives a top-level heading is exported.
const api = fs.readFileSync(path.join(__dirname, '..', 'docs', 'api.md'), 'utf8');
const identifier = /^[A-Za-z_$][\w$]*$/;

/** Names a heading or a table row's first cell documents (`Class: \`X\``, `\`x(...)\``, `\`A\`, \`B\``). */
function documentedNames(): { anywhere: Set<string>; topLevel: Set<string> } {
  const anywhere = new Set<string>();
  const topLevel = new Set<string>();
  for (const line of api.split('\n')) {
    const heading = /^(#{2,3}) (.*)$/.exec(line);
    const cell = /^\| ([^|]*) \|/.exec(line);
    const text = heading?.[2] ?? cell?.[1];
    if (text === undefined) continue;
    for (const m of text.matchAll(/`(?:new |@)?([A-Za-z_$][\w$]*)/g)) {
      anywhere.add(m[1]);
      // `## Class: \`X\``, `### Class: \`X\``, `## \`fn(...)\`` - not members like `mutex.name`.
      const after = text.slice(m.index + m[0].length);
      if (heading !== null && m.index === text.search(/`/) && !/^[.[]/.test(after)) {
        if (/^Class: /.test(text) || /^`/.test(text)) topLevel.add(m[1]);
      }
    }
  }
  return { anywhere, topLevel };
}

/** Exported type names of dist/index.d.ts (re-exported `type X` and interfaces/types). */
function exportedTypes(): string[] {
  const file = path.join(__dirname, '..', 'dist', 'index.d.ts');
  const program = ts.createProgram([file], { skipLibCheck: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const symbol = checker.getSymbolAtLocation(source)!;
  return checker
    .getExportsOfModule(symbol)
    .filter((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return (target.flags & ts.SymbolFlags.Value) === 0; // types only (values are checked at run time)
    })
    .map((s) => s.getName());
}

const docs = documentedNames();
const runtime = Object.keys(shmsync).filter((n) => n !== 'default' && identifier.test(n));

t.test('every runtime export is documented in docs/api.md', async (t) => {
  t.ok(runtime.length > 40, `${runtime.length} runtime exports`);
  t.same(
    runtime.filter((n) => !docs.anywhere.has(n)),
    [],
    'undocumented exports',
  );
});

t.test('every exported type is documented in docs/api.md', async (t) => {
  const types = exportedTypes();
  t.ok(types.length > 30, `${types.length} exported types`);
  t.same(
    types.filter((n) => !docs.anywhere.has(n)),
    [],
    'undocumented types',
  );
});

t.test('every class and function documented at the top level is exported', async (t) => {
  t.ok(docs.topLevel.size > 20, `${docs.topLevel.size} top-level headings`);
  t.same(
    [...docs.topLevel].filter((n) => !(n in shmsync)),
    [],
    'documented but not exported',
  );
});

t.test('internals are not exported', async (t) => {
  for (const name of ['createNativeError', 'binding', 'defineError', 'ownerId', 'LockEngine']) {
    t.notOk(name in shmsync, `${name} is internal`);
  }
});
