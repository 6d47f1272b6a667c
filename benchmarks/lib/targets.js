'use strict';
// The targets section of a run: issue 10's table (lib/targets-issue10.js), issue 13's Web Locks
// target (lib/targets-issue13.js) and PERF.md's other targets (lib/targets-perf.js), each check
// evaluated against one run's results - the measured figure or ratio (against the peer measured
// in the same run), the threshold, met / missed.
//
// Absolute thresholds (ns, µs, msgs/s) come from PERF.md's quiet machine; this machine is shared
// and its absolute figures move with the load. Where PERF.md lists a figure for a peer that ran
// in this same run, an absolute check also shows a *load-normalised* value: the measured value ×
// (PERF.md's figure for that peer / the peer's figure in this run). It is an estimate, labelled
// as such; the verdict is always the raw check.
//
// Check kinds:
//   abs    { of, field, cmp: 'lower' | 'higher', threshold, show, ref? }  a value vs a threshold
//   ratio  { of, peer, field, threshold }       how many times better than the peer (≥ threshold)
//   custom { evaluate(find, run) -> { measured, met, note? } | null }
// threshold null = an "info" row. `of`/`peer` are [group, competitor name] (lib/target-kinds.js).
const fmt = require('./format');
const { time, x } = require('./target-kinds');
const { kIssue10 } = require('./targets-issue10');
const { kIssue13 } = require('./targets-issue13');
const { kIssue11 } = require('./targets-issue11');
const { kIssue12 } = require('./targets-issue12');
const { kPerf } = require('./targets-perf');

// `part` picks the heading a target is listed under (console and Markdown).
const kTargets = [
  ...kIssue10.map((t) => ({ ...t, issue10: true, part: 'issue10' })),
  ...kIssue11.map((t) => ({ ...t, part: 'issue11' })),
  ...kIssue13.map((t) => ({ ...t, part: 'issue13' })),
  ...kIssue12.map((t) => ({ ...t, part: 'issue12' })),
  ...kPerf.map((t) => ({ ...t, part: 'perf' })),
];
const kPartTitles = {
  issue10: 'issue 10',
  issue11: 'issue 11 (channels and pools)',
  issue13: 'issue 13 (Web Locks across processes)',
  issue12: 'issue 12 (actors and relays)',
  perf: 'PERF.md, met on main already (keep them met)',
};
const kCmp = { lower: (a, b) => a <= b, higher: (a, b) => a >= b };

/** A competitor's result in a run, whatever its status, or null when its group did not run. */
function lookup(run, group, name) {
  const g = run.groups.find((r) => r.name === group);
  return (g && g.competitors.find((c) => c.name === name)) ?? null;
}

/** Looks a competitor up in a run: its result, or null when absent, pending, skipped or failed. */
function finder(run) {
  return (group, name) => {
    const r = lookup(run, group, name);
    return r && r.status === 'ok' ? r : null;
  };
}

/** Why a competitor that is in the run has no result (skipped, pending, error), or null. */
function whyNot(run, of) {
  const r = lookup(run, ...of);
  if (!r || r.status === 'ok') return null;
  return `${r.status}${r.note ? `: ${r.note}` : ''}`;
}

/** Higher-is-better ratio of shmsync over the peer for `field`. */
function betterRatio(field, s, p) {
  return field === 'opsPerSec' ? s[field] / p[field] : p[field] / s[field];
}

function normalised(find, check, value) {
  const ref = check.ref;
  if (!ref) return null;
  const r = find(...ref.of);
  if (!r || !(r[ref.field] > 0)) return null;
  const v = value * (ref.perf / r[ref.field]);
  const here = ref.field === 'opsPerSec' ? fmt.rate(r[ref.field]) : time(r[ref.field]);
  return {
    text: `≈ ${check.show(v)} load-normalised (${ref.label} in PERF.md, ${here} here)`,
    met: check.threshold === null ? null : kCmp[check.cmp](v, check.threshold),
  };
}

function evaluateCheck(find, run, c, row) {
  if (c.kind === 'custom') {
    const out = c.evaluate(find, run);
    if (out) Object.assign(row, out);
    row.info = out ? out.met === null && out.measured !== null : row.info;
    return;
  }
  const s = find(...c.of);
  const p = c.kind === 'ratio' ? find(...c.peer) : null;
  if (!s || (c.kind === 'ratio' && !p)) {
    row.note = whyNot(run, c.of) ?? (c.kind === 'ratio' ? whyNot(run, c.peer) : null);
    return;
  }
  if (c.kind === 'abs') {
    const v = s[c.field];
    row.measured = c.show(v);
    row.met = c.threshold === null ? null : kCmp[c.cmp](v, c.threshold);
    const n = normalised(find, c, v);
    if (n) {
      row.normalised = n.text;
      row.normalisedMet = n.met;
    }
    return;
  }
  const k = betterRatio(c.field, s, p);
  const show = c.show ?? (c.field === 'opsPerSec' ? fmt.rate : time);
  row.measured = `${x(k)} (${show(s[c.field])} vs ${show(p[c.field])})`;
  row.met = c.threshold === null ? null : k >= c.threshold;
}

/**
 * Every check of every target against `run`: rows { id, figure, before, issue10, check,
 * measured, met, normalised, normalisedMet, note, info }. measured null = not measured (`note`
 * may say why).
 */
function evaluateTargets(run) {
  const find = finder(run);
  const rows = [];
  for (const t of kTargets) {
    for (const c of t.checks) {
      const row = {
        id: t.id,
        figure: t.figure,
        before: t.before ?? null,
        issue10: t.issue10 === true,
        part: t.part,
        check: c.label,
        measured: null,
        met: null,
        normalised: null,
        note: null,
        info: c.threshold === null,
      };
      evaluateCheck(find, run, c, row);
      rows.push(row);
    }
  }
  return rows;
}

/** The rows of the targets a run measured something for (a selection of groups checks fewer). */
function measuredTargets(rows) {
  const shown = new Set(rows.filter((r) => r.measured !== null || r.note !== null).map((r) => r.id));
  return rows.filter((r) => shown.has(r.id));
}

function verdict(row) {
  if (row.measured === null) return 'not measured';
  if (row.met === null) return 'info';
  const base = row.met ? 'met' : 'MISSED';
  if (row.normalisedMet === undefined || row.normalisedMet === null || row.normalisedMet === row.met) return base;
  return `${base} (load-normalised: ${row.normalisedMet ? 'met' : 'missed'})`;
}

function measuredText(r, sep) {
  if (r.measured === null) return r.note ?? '—';
  return r.measured + (r.normalised ? `${sep}${r.normalised}` : '');
}

/** "issue 10: 3 of 17 checks met, 12 missed, 2 not measured". */
function summary(rows) {
  const checks = rows.filter((r) => r.issue10 && !r.info && !/^stretch/.test(r.check));
  if (!checks.length) return null;
  const met = checks.filter((r) => r.measured !== null && r.met === true).length;
  const missed = checks.filter((r) => r.measured !== null && r.met === false).length;
  const none = checks.length - met - missed;
  return `issue 10: ${met} of ${checks.length} checks met, ${missed} missed${none ? `, ${none} not measured` : ''} (stretch goals not counted)`;
}

function targetsConsole(rows) {
  const out = [
    "\ntargets — issue 10's table, issue 13's, then PERF.md's other targets (ratios against peers measured in this run)",
  ];
  let last = null;
  let part = null;
  for (const r of rows) {
    if (r.part !== part) {
      out.push(`\n  ${kPartTitles[r.part]}`);
      part = r.part;
    }
    if (r.id !== last) {
      out.push(`  ${r.id.padStart(3)}  ${r.figure}${r.before ? `   [before, issue 10 table: ${r.before}]` : ''}`);
      last = r.id;
    }
    out.push(`       ${verdict(r).padEnd(12)} ${r.check}: ${measuredText(r, '; ')}`);
  }
  const s = summary(rows);
  if (s) out.push(`\n  ${s}`);
  return out.join('\n');
}

/** One Markdown table of target rows: # | row | before (optional) | target | measured | verdict. */
function markdownTable(rows, { before = true } = {}) {
  const esc = (c) => String(c).replace(/\|/g, '\\|');
  const lines = before
    ? ['| # | row | before (issue 10 table) | target | measured | verdict |', '| --- | --- | --- | --- | --- | --- |']
    : ['| # | row | target | measured | verdict |', '| --- | --- | --- | --- | --- |'];
  let last = null;
  for (const r of rows) {
    const first = r.id !== last;
    last = r.id;
    const cells = [
      first ? r.id : '',
      first ? r.figure : '',
      ...(before ? [first ? (r.before ?? '') : ''] : []),
      r.check,
      measuredText(r, '<br>'),
      verdict(r),
    ];
    lines.push(`| ${cells.map(esc).join(' | ')} |`);
  }
  return lines;
}

/**
 * The targets section as Markdown: issue 10's rows (the table the README shows, with the
 * issue's "before" figures), then PERF.md's other targets.
 */
function targetsMarkdown(rows) {
  const issue = rows.filter((r) => r.part === 'issue10');
  const issue11 = rows.filter((r) => r.part === 'issue11');
  const issue13 = rows.filter((r) => r.part === 'issue13');
  const issue12 = rows.filter((r) => r.part === 'issue12');
  const perf = rows.filter((r) => r.part === 'perf');
  const lines = [
    `### targets: issue 10${issue13.length ? ', issue 13' : ''}${issue12.length ? ', issue 12' : ''} and PERF.md, this run`,
    '',
    'Ratios are against the peer measured in this run. Absolute thresholds are PERF.md\'s quiet-machine figures; where a reference peer of PERF.md ran here too, the load-normalised estimate (measured × PERF figure of that peer / its figure here) is shown next to the raw value. The verdict is the raw check; "info" rows have no threshold. "before" is the figure in issue 10\'s table (main, a quiet run).',
  ];
  if (issue.length) {
    lines.push('', '#### issue 10', '', ...markdownTable(issue));
    const s = summary(rows);
    if (s) lines.push('', s);
  }
  if (issue11.length) lines.push('', `#### ${kPartTitles.issue11}`, '', ...markdownTable(issue11, { before: false }));
  if (issue13.length) lines.push('', `#### ${kPartTitles.issue13}`, '', ...markdownTable(issue13, { before: false }));
  if (issue12.length) lines.push('', `#### ${kPartTitles.issue12}`, '', ...markdownTable(issue12, { before: false }));
  if (perf.length)
    lines.push('', '#### PERF.md, met on main already (keep them met)', '', ...markdownTable(perf, { before: false }));
  return lines.join('\n');
}

module.exports = { evaluateTargets, measuredTargets, targetsConsole, targetsMarkdown, kTargets };
