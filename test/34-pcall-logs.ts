// Captured child logs (`log: 'capture'`, `logDir`): appended to the parent's stdout on join(),
// one framed section per child in call order, as pyATS appends child TaskLogs. The pcall runs in
// a fixture process so its stdout can be read (this process's stdout is the TAP stream).
import t from 'tap';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const parentFixture = path.join(__dirname, 'fixtures', 'pcall-log-parent.js');
const env = { ...process.env };
delete env.NODE_OPTIONS; // tap's process tracker would slow every child down

function runParent(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [parentFixture, ...args], { env }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
  });
}

// stdout and stderr are two pipes: their relative order within one section is not defined.
const section = (name: string, i: number): string =>
  `>>>> Begin child log ${name}\nerr of call ${i}\nout of call ${i}\n<<<< End child log ${name}\n`;
const sortSections = (out: string): string =>
  out.replace(
    /(>>>> Begin child log .*\n)([^]*?)(<<<< End child log)/g,
    (_m, head: string, body: string, tail: string) =>
      head +
      body
        .split('\n')
        .filter(Boolean)
        .sort()
        .map((l) => `${l}\n`)
        .join('') +
      tail,
  );

for (const [mode, label] of [
  ['process', 'pid'],
  ['thread', 'thread'],
] as const) {
  t.test(`${mode}: child stdout and stderr are captured and appended framed, in call order`, async (t) => {
    const out = await runParent([mode]);
    const names = [...out.matchAll(/^>>>> Begin child log (.*)$/gm)].map((m) => m[1]);
    t.equal(names.length, 2, 'one section per child');
    t.match(names[0], new RegExp(`^pcall child 0 \\(${label} \\d+\\)$`));
    t.match(names[1], new RegExp(`^pcall child 1 \\(${label} \\d+\\)$`));
    t.equal(
      sortSections(out),
      section(names[0], 0) + section(names[1], 1) + 'RESULTS [0,10]\n',
      'nothing printed outside the frames',
    );
  });
}

t.test('logDir: one file per child, appended framed with the file path as its name', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcall-logs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = await runParent(['process', dir]);
  const files = fs.readdirSync(dir).sort();
  t.equal(files.length, 2);
  t.match(files[0], /^pcall-0-\d+\.log$/);
  t.match(files[1], /^pcall-1-\d+\.log$/);
  const file = fs.readFileSync(path.join(dir, files[0]), 'utf8');
  t.same(file.split('\n').sort(), ['', 'err of call 0', 'out of call 0'], 'the file holds the child output');
  const paths = files.map((f) => path.join(dir, f));
  t.equal(sortSections(out), section(paths[0], 0) + section(paths[1], 1) + 'RESULTS [0,10]\n');
});
