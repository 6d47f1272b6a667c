/**
 * `shmsync bench [group…]`: runs benchmarks/run.js (a source checkout's benchmark suite, its own
 * package) in a child process with a progress bar, then prints the same-run ratios of shmsync
 * to each peer, writes the run's JSON and an SVG chart of the ratios (rendered by Vega, loaded
 * from benchmarks/node_modules only here), and with --compare OLD.json the change per ratio.
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { SingleBar } from 'cli-progress';
import { c, printJson, table } from '../render';
import { CliError, UsageError } from '../errors';

export interface BenchOptions {
  quick?: boolean;
  samples?: string;
  time?: string;
  out?: string;
  compare?: string;
  json?: boolean;
  verbose?: boolean;
}

export interface RatioRow {
  group: string;
  peer: string;
  vs: string;
  ratio: number | null;
  old?: number | null;
  change?: number | null;
}

interface RunJson {
  groups: Array<{
    name: string;
    competitors: Array<{
      name: string;
      side: string;
      status: string;
      ratios?: Array<{ vs: string; ratio: number | null }>;
    }>;
  }>;
}

/** The checkout root whose benchmarks/ this command runs (dist/cli/commands -> root). */
function benchRoot(): string {
  const root = process.env.SHMSYNC_BENCH_ROOT ?? path.resolve(__dirname, '..', '..', '..');
  if (!fs.existsSync(path.join(root, 'benchmarks', 'run.js'))) {
    throw new CliError(`shmsync bench needs a source checkout: ${path.join(root, 'benchmarks', 'run.js')} not found`);
  }
  return root;
}

/** Every (group, peer, shmsync competitor) ratio of a run: > 1 means shmsync did better. */
export function ratios(run: RunJson): RatioRow[] {
  const rows: RatioRow[] = [];
  for (const g of run.groups ?? []) {
    for (const r of g.competitors ?? []) {
      if (r.side !== 'peer' || !Array.isArray(r.ratios)) continue;
      for (const x of r.ratios)
        rows.push({ group: g.name, peer: r.name, vs: x.vs, ratio: typeof x.ratio === 'number' ? x.ratio : null });
    }
  }
  return rows;
}

export function compare(now: RatioRow[], old: RatioRow[]): RatioRow[] {
  const key = (r: RatioRow): string => `${r.group}\0${r.peer}\0${r.vs}`;
  const before = new Map(old.map((r) => [key(r), r.ratio]));
  return now.map((r) => {
    const o = before.get(key(r)) ?? null;
    return { ...r, old: o, change: o !== null && r.ratio !== null ? r.ratio / o - 1 : null };
  });
}

const fmtRatio = (r: number | null | undefined): string =>
  r == null ? '—' : r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`;

export function ratioTable(rows: RatioRow[], withCompare: boolean): string {
  const head = ['GROUP', 'PEER', 'SHMSYNC', 'RATIO', ...(withCompare ? ['BEFORE', 'CHANGE'] : [])];
  const widths = withCompare ? [18, null, 14, 8, 8, 8] : [18, null, 18, 9];
  return table(
    head,
    widths,
    rows.map((r) => {
      const ratio = r.ratio === null ? '—' : r.ratio >= 1 ? c.green(fmtRatio(r.ratio)) : c.red(fmtRatio(r.ratio));
      const cells = [r.group, r.peer, r.vs, ratio];
      if (withCompare) {
        const ch = r.change == null ? '—' : `${r.change >= 0 ? '+' : ''}${(r.change * 100).toFixed(0)}%`;
        cells.push(fmtRatio(r.old), r.change == null ? ch : r.change >= 0 ? c.green(ch) : c.red(ch));
      }
      return cells;
    }),
  );
}

/** A Vega bar chart (log scale) of the ratios; the previous run as ticks with --compare. */
export function chartSpec(rows: RatioRow[]): Record<string, unknown> {
  const shown = rows.filter((r) => r.ratio !== null && r.ratio > 0);
  const base = (r: RatioRow): string => `${r.group}: vs ${r.peer}`;
  const twice = new Set(shown.map(base).filter((l, i, all) => all.indexOf(l) !== i));
  const values = shown.map((r) => ({
    label: twice.has(base(r)) ? `${base(r)} (${r.vs})` : base(r),
    ratio: r.ratio,
    old: r.old ?? null,
    better: (r.ratio ?? 0) >= 1,
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega/v6.json',
    description: 'shmsync vs peers, same-run ratios (> 1: shmsync better)',
    width: 480,
    height: Math.max(40, values.length * 18),
    padding: 8,
    background: 'white',
    title: { text: 'shmsync vs peers: same-run ratio (> 1 = shmsync better)', fontSize: 13 },
    data: [
      { name: 'ratios', values },
      { name: 'old', source: 'ratios', transform: [{ type: 'filter', expr: 'datum.old != null && datum.old > 0' }] },
    ],
    scales: [
      { name: 'y', type: 'band', domain: { data: 'ratios', field: 'label' }, range: 'height', padding: 0.2 },
      {
        name: 'x',
        type: 'log',
        domain: {
          fields: [
            { data: 'ratios', field: 'ratio' },
            { data: 'old', field: 'old' },
          ],
        },
        domainMin: 0.1,
        range: 'width',
        nice: true,
        zero: false,
      },
      { name: 'color', type: 'ordinal', domain: [true, false], range: ['#2a9d4b', '#c0392b'] },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'ratio (log scale)', grid: true, format: '~g' },
      { orient: 'left', scale: 'y', labelLimit: 420 },
    ],
    marks: [
      {
        type: 'rect',
        from: { data: 'ratios' },
        encode: {
          enter: {
            y: { scale: 'y', field: 'label' },
            height: { scale: 'y', band: 1 },
            x: { scale: 'x', value: 1 },
            x2: { scale: 'x', field: 'ratio' },
            fill: { scale: 'color', field: 'better' },
          },
        },
      },
      {
        type: 'rect',
        from: { data: 'old' },
        encode: {
          enter: {
            y: { scale: 'y', field: 'label' },
            height: { scale: 'y', band: 1 },
            x: { scale: 'x', field: 'old' },
            width: { value: 2 },
            fill: { value: 'black' },
          },
        },
      },
      {
        type: 'rule',
        encode: {
          enter: { x: { scale: 'x', value: 1 }, y: { value: 0 }, y2: { signal: 'height' }, stroke: { value: '#333' } },
        },
      },
    ],
  };
}

/** Renders the chart with Vega (headless, no canvas: view.toSVG()). */
export async function renderSvg(rows: RatioRow[], root: string): Promise<string> {
  let vegaPath: string;
  try {
    vegaPath = createRequire(path.join(root, 'benchmarks', 'package.json')).resolve('vega');
  } catch {
    throw new CliError('the ratio chart needs vega: run `npm ci` in benchmarks/');
  }
  // vega is ESM-only: a dynamic import that TypeScript's CommonJS output must not rewrite.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- vega (optional, loaded at run time) has no types here
  const load = new Function('u', 'return import(u)') as (u: string) => Promise<any>;
  const vega = await load(pathToFileURL(vegaPath).href);
  const view = new vega.View(vega.parse(chartSpec(rows)), { renderer: 'none' });
  return view.toSVG();
}

function runSuite(root: string, groups: string[], opts: BenchOptions, outDir: string): Promise<number> {
  const args = [...groups, '--out', outDir];
  if (opts.quick) args.push('--quick');
  if (opts.samples !== undefined) args.push('--samples', opts.samples);
  if (opts.time !== undefined) args.push('--time', opts.time);
  const log = fs.openSync(path.join(outDir, 'latest.log'), 'w');
  const child = fork(path.join(root, 'benchmarks', 'run.js'), args, {
    cwd: root,
    stdio: ['ignore', opts.verbose ? 'inherit' : log, opts.verbose ? 'inherit' : log, 'ipc'],
  });
  const bar = new SingleBar({
    format: '{bar} {value}/{total} groups | {group} | {duration_formatted}',
    stream: process.stderr,
    noTTYOutput: true,
    notTTYSchedule: 5000,
    hideCursor: true,
  });
  let started = false;
  let done = 0;
  child.on('message', (m: { benchProgress?: { groups?: string[]; start?: string; done?: string } }) => {
    const p = m?.benchProgress;
    if (!p || opts.json) return;
    if (p.groups) {
      bar.start(p.groups.length, 0, { group: 'starting' });
      started = true;
    }
    if (p.start) bar.update(done, { group: p.start });
    if (p.done) bar.update(++done, { group: p.done });
  });
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      if (started) bar.stop();
      fs.closeSync(log);
      resolve(code ?? 1);
    });
  });
}

function readRun(file: string): RunJson {
  let run: RunJson;
  try {
    run = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read benchmark results ${file}: ${(err as Error).message}`);
  }
  if (!run || !Array.isArray(run.groups)) throw new CliError(`${file} is not a benchmark result (no "groups" array)`);
  return run;
}

export async function bench(groups: string[], opts: BenchOptions): Promise<number> {
  if (opts.compare !== undefined && !fs.existsSync(opts.compare))
    throw new UsageError(`--compare: ${opts.compare} does not exist`);
  const root = benchRoot();
  const outDir = path.resolve(opts.out ?? path.join(root, 'benchmarks', 'results'));
  fs.mkdirSync(outDir, { recursive: true });
  const old = opts.compare !== undefined ? readRun(opts.compare) : null;
  const jsonFile = path.join(outDir, 'latest.json');
  fs.rmSync(jsonFile, { force: true }); // never report a previous run's results as this one's
  const code = await runSuite(root, groups, opts, outDir);
  if (code === 2)
    throw new UsageError(`benchmarks/run.js rejected the arguments (see ${path.join(outDir, 'latest.log')})`);
  if (!fs.existsSync(jsonFile))
    throw new CliError(`the benchmark run failed with exit code ${code}; log: ${path.join(outDir, 'latest.log')}`);
  const run = readRun(jsonFile);
  let rows = ratios(run);
  if (old) rows = compare(rows, ratios(old));
  const svgFile = path.join(outDir, 'ratios.svg');
  fs.writeFileSync(svgFile, await renderSvg(rows, root));
  if (opts.json) printJson({ json: jsonFile, svg: svgFile, exitCode: code, ratios: rows });
  else {
    console.log(ratioTable(rows, old !== null));
    console.log(['wrote:', jsonFile, path.join(outDir, 'latest.md'), svgFile].join('\n  '));
    if (code !== 0) console.log(c.red(`the run exited ${code}: see ${path.join(outDir, 'latest.log')}`));
  }
  return code === 0 ? 0 : 1;
}
