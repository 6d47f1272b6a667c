// `shmsync bench`: runs a benchmark group, prints same-run ratios, writes JSON and an SVG chart
// (Vega), and --compare shows the change against an earlier run. Needs benchmarks/node_modules.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from './helpers/cli';

const benchModules = path.join(__dirname, '..', 'benchmarks', 'node_modules', 'vega');
const skip = fs.existsSync(benchModules) ? false : 'benchmarks/node_modules missing: run `npm ci` in benchmarks/';

t.test('bench: table, JSON, SVG chart, --compare', { skip }, async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-bench-'));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const args = ['bench', 'lock-uncontended', '--samples', '1', '--time', '10', '--out', out];
  const first = await runCli([...args, '--json']);
  t.equal(first.code, 0, first.stderr);
  const run = JSON.parse(first.stdout);
  t.equal(run.json, path.join(out, 'latest.json'));
  t.ok(run.ratios.length >= 3, 'one ratio per peer');
  for (const r of run.ratios) t.match(r, { group: 'lock-uncontended', peer: String, vs: String });
  t.ok(run.ratios.some((r: { ratio: number | null }) => typeof r.ratio === 'number' && r.ratio > 0));
  const svg = fs.readFileSync(path.join(out, 'ratios.svg'), 'utf8');
  t.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.match(svg, /lock-uncontended: vs async-mutex/, 'a bar label per peer');
  const results = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8'));
  t.equal(results.groups[0].name, 'lock-uncontended');

  const old = path.join(out, 'old.json');
  fs.renameSync(path.join(out, 'latest.json'), old);
  const second = await runCli([...args, '--compare', old]);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /GROUP\s+PEER\s+SHMSYNC\s+RATIO\s+BEFORE\s+CHANGE/);
  t.match(second.stdout, /[+-]\d+%/, 'a change column');
  t.match(second.stderr, /1\/1 groups/, 'progress bar on stderr');
  for (const line of second.stdout.split('\n'))
    if (!line.includes(out)) t.ok(line.length <= 80, `fits 80 columns: ${line}`);
});

t.test('bench: usage errors exit 2', { skip }, async (t) => {
  const bad = await runCli(['bench', 'no-such-group', '--out', os.tmpdir()]);
  t.equal(bad.code, 2, bad.stderr);
  const missing = await runCli(['bench', '--compare', '/nonexistent/old.json']);
  t.equal(missing.code, 2);
});
