'use strict';
// Turns group results into rows, then into a console table, a Markdown table and JSON.
const fs = require('node:fs');
const path = require('node:path');
const fmt = require('./format');
const { targetsMarkdown } = require('./targets');

const kHeaders = {
  time: ['competitor', 'time/op', 'ops/s', 'spread', 'samples × iters', 'shmsync vs this'],
  throughput: ['competitor', 'msgs/s', 'time/msg', 'spread', 'samples × msgs', 'shmsync vs this'],
  latency: ['competitor', 'p50', 'p99', 'ops/s', 'spread p50', 'samples × ops', 'shmsync vs this (p50)'],
};

function ratioCell(r, { markdown }) {
  if (r.side !== 'peer' || !r.ratios || r.ratios.length === 0) return '';
  const parts = r.ratios.map((x) => {
    const value = x.ratio === null ? '—' : fmt.ratio(x.ratio);
    return r.ratios.length > 1 ? `${x.vs}: ${value}` : value;
  });
  return parts.join(markdown ? '<br>' : '; ');
}

/** The metric's column headers; a group may rename some (`columns: { 'msgs/s': 'acq/s' }`). */
function headers(group) {
  const h = kHeaders[group.metric].map((x) => group.columns?.[x] ?? x);
  if (group.metric === 'throughput' && group.bytesPerOp) h[1] = 'MB/s';
  return h;
}

function valueCells(group, r) {
  const { metric } = group;
  const iters = r.documented ? 'not measured' : `${r.samples} × ${fmt.count(r.n)}`;
  const sp = r.documented ? 'documented' : fmt.percent(r.spread);
  if (metric === 'time') return [fmt.duration(r.nsPerOp), fmt.rate(r.opsPerSec), sp, iters];
  if (metric === 'throughput') {
    const first = group.bytesPerOp ? fmt.megabytes(r.opsPerSec * group.bytesPerOp) : fmt.rate(r.opsPerSec);
    return [first, fmt.duration(r.nsPerOp), sp, iters];
  }
  return [fmt.duration(r.p50Ns), fmt.duration(r.p99Ns), fmt.rate(r.opsPerSec), sp, iters];
}

/** Rows of cells for one group (pending shmsync rows are summarised below the table instead). */
function groupRows(group, { markdown = false } = {}) {
  const width = headers(group).length;
  const rows = [];
  for (const r of group.competitors) {
    if (r.status === 'pending') continue;
    const label = r.side === 'shmsync' ? (markdown ? `**shmsync** ${r.name}` : `shmsync: ${r.name}`) : r.name;
    let cells;
    if (r.status === 'ok') cells = [label, ...valueCells(group, r), ratioCell(r, { markdown })];
    else cells = [label, `${r.status}: ${r.note}`, ...Array(width - 2).fill('')];
    rows.push(cells);
  }
  return rows;
}

/** Extra lines under a group's table: each competitor's `detail`, and documented sources. */
function detailLines(group) {
  const out = [];
  for (const r of group.competitors) {
    if (r.status !== 'ok') continue;
    if (r.detail) out.push(`${r.side === 'shmsync' ? 'shmsync: ' : ''}${r.name}: ${r.detail}`);
    if (r.documented && r.note) out.push(`${r.name}: ${r.note}`);
  }
  return out;
}

function pendingLine(group) {
  const names = group.competitors.filter((r) => r.status === 'pending').map((r) => r.name);
  return names.length ? `shmsync: not yet implemented (${names.join('; ')})` : null;
}

function consoleTable(group) {
  const header = headers(group);
  const rows = [header, ...groupRows(group)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const numeric = (i) => i > 0 && i < header.length - 1;
  const line = (r) =>
    '  ' +
    r
      .map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [`\n${group.name} — ${group.title} (per ${group.unit})`, line(rows[0])];
  for (const r of rows.slice(1)) out.push(line(r));
  for (const d of detailLines(group)) out.push(`  · ${d}`);
  const p = pendingLine(group);
  if (p) out.push(`  ${p}`);
  return out.join('\n');
}

function markdownGroup(group) {
  const header = headers(group);
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  const lines = [`### ${group.name}: ${group.title} (per ${group.unit})`, ''];
  if (group.notes) lines.push(group.notes, '');
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const r of groupRows(group, { markdown: true })) lines.push(`| ${r.map(esc).join(' | ')} |`);
  const details = detailLines(group);
  if (details.length) lines.push('', ...details.map((d) => `- ${d}`));
  const p = pendingLine(group);
  if (p) lines.push('', `*${p}*`);
  return lines.join('\n');
}

/** " (await-after-lock also on v22.x, v24.x)" when the run had more Node binaries. */
function otherNodes(m) {
  const more = (m.nodes?.nodes ?? []).filter((n) => !n.current).map((n) => n.version);
  return more.length ? ` (await-after-lock also on ${more.join(', ')})` : '';
}

function markdown(run) {
  const m = run.machine;
  return [
    '## Benchmark results',
    '',
    `Measured with \`node benchmarks/run.js${run.options.quick ? ' --quick' : ''}\` on ${m.cpu}, ${m.cores} cores, ` +
      `${fmt.bytes(m.memoryBytes)}, ${m.kernel}, Node ${m.node}${otherNodes(m)}, shmsync ${m.commit}, ${m.date}, ` +
      `load average ${m.loadavg.join(' ')} at the start${run.loadavgEnd ? `, ${run.loadavgEnd.join(' ')} at the end` : ''} (${m.cores} cores). ` +
      `${run.options.samples} samples of ~${run.options.sampleTimeMs} ms per competitor, interleaved; medians shown. ` +
      '"shmsync vs this" is how many times better shmsync did than that peer in the same run (> 1: shmsync faster). ' +
      'Absolute figures on a shared VM move ±30 % between runs; compare ratios.',
    '',
    ...run.groups.map((g) => markdownGroup(g) + '\n'),
    ...(run.targets && run.targets.length ? [targetsMarkdown(run.targets) + '\n'] : []),
  ].join('\n');
}

function writeResults(run, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, 'latest.json');
  const md = path.join(outDir, 'latest.md');
  fs.writeFileSync(json, JSON.stringify(run, null, 2) + '\n');
  fs.writeFileSync(md, markdown(run));
  return { json, md };
}

module.exports = { consoleTable, markdown, writeResults };
