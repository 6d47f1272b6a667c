/**
 * Presentation of scans: colour (off when NO_COLOR is set, --no-color is given or stdout is not
 * a terminal; FORCE_COLOR forces it), 80-column tables (cli-table3), and the JSON form of every
 * object (bigints as decimal strings, so the output is plain JSON).
 */
import Table from 'cli-table3';
import type { LockView, Scan, ShmObject } from './segments';

let colorOn = false;

export function setColor(enabled: boolean | undefined): void {
  if (enabled === false || (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '')) {
    colorOn = false;
    return;
  }
  const force = process.env.FORCE_COLOR;
  colorOn = force !== undefined && force !== '' && force !== '0' ? true : process.stdout.isTTY === true;
}

const paint =
  (code: string) =>
  (s: string): string =>
    colorOn ? `\x1b[${code}m${s}\x1b[0m` : s;
export const c = { bold: paint('1'), red: paint('31'), yellow: paint('33'), green: paint('32'), dim: paint('2') };

export const kWidth = 80;

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1024) return `${n}B`;
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v >= 10 ? Math.round(v) : Number(v.toFixed(1))}${units[u]}`;
}

export const modeString = (mode: number): string => mode.toString(8).padStart(4, '0');

/** A borderless table of fixed total width `kWidth`; `flex` is the index of the column that takes the rest. */
export function table(head: string[], widths: Array<number | null>, rows: string[][]): string {
  const fixed = widths.reduce<number>((a, w) => a + (w ?? 0), 0);
  const colWidths = widths.map((w) => w ?? Math.max(8, kWidth - fixed));
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    colWidths,
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 1, compact: true },
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '',
    },
  });
  for (const r of rows) t.push(r);
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .join('\n');
}

/** Breaks a long unbreakable cell (a name) into lines of `width` - 1 characters (cli-table3 would truncate it). */
export function hardWrap(text: string, width: number): string {
  const w = Math.max(1, width - 1);
  if (text.length <= w) return text;
  const out: string[] = [];
  for (let i = 0; i < text.length; i += w) out.push(text.slice(i, i + w));
  return out.join('\n');
}

/** A duration in the largest fitting units: 42s, 5m12s, 3h04m, 2d07h. */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`;
}

/** How long the current hold has lasted: `for 5m12s`, `for ≥5m12s` (a waiter's bound), or ''. */
export function heldForText(l: LockView, now = Date.now()): string {
  if (l.heldSince === null) return '';
  return `for ${l.heldSince.exact ? '' : '≥'}${durationText(now - l.heldSince.at.getTime())}`;
}

export function holderText(l: LockView): string {
  if (l.ownerId === 0) return 'free';
  const h = l.holder;
  const since = l.heldSince === null ? '' : ` ${heldForText(l)}`;
  if (h === null || h.pid === null) return `held by owner ${l.ownerId} (no owner table)${since}`;
  const who = `pid ${h.pid}${h.threadId ? ` thread ${h.threadId}` : ''}`;
  return h.alive ? `held by ${who}${since}` : c.red(`held by DEAD ${who}${since}`);
}

export function lockState(l: LockView): string {
  const parts = [l.ownerId === 0 ? 'free' : holderText(l)];
  if (l.ownerId !== 0) parts.push(`depth ${l.depth}`);
  if (l.waiters > 0 || l.waitersBit) parts.push(`${l.waiters} waiting`);
  if (l.ownerDeaths > 0) parts.push(`${l.ownerDeaths} owner death${l.ownerDeaths === 1 ? '' : 's'}`);
  if (l.consistency !== 'consistent') parts.push(c.red(l.consistency ?? 'bad consistency'));
  parts.push(`fence ${l.fence}`);
  return parts.join(', ');
}

export function stateText(o: ShmObject): string {
  if (o.status === 'corrupt') return c.red(`CORRUPT: ${o.problem}`);
  if (o.status === 'unpublished') return 'unpublished (creation staging file)';
  if (o.lock) return lockState(o.lock);
  if (o.ring) {
    const r = o.ring;
    const parts = [`${r.depth} msg${r.depth === 1 ? '' : 's'}`, `${bytes(r.bytesUsed)}/${bytes(r.capacity)} used`];
    if (r.producersWaiting > 0)
      parts.push(c.yellow(`${r.producersWaiting} producer${r.producersWaiting === 1 ? '' : 's'} waiting (full)`));
    if (r.consumersWaiting > 0)
      parts.push(`${r.consumersWaiting} consumer${r.consumersWaiting === 1 ? '' : 's'} waiting`);
    if (r.ended) parts.push(c.yellow('ended'));
    for (const [side, l] of [
      ['producer', r.producerLock],
      ['consumer', r.consumerLock],
    ] as const) {
      if (l && l.ownerId !== 0 && l.holder?.alive === false) parts.push(c.red(`${side} lock holder died`));
    }
    return parts.join(', ');
  }
  if (o.owners) {
    const pids = [...new Set(o.owners.live.map((s) => s.pid))];
    return `${o.owners.live.length} live context${o.owners.live.length === 1 ? '' : 's'} (pids ${pids.slice(0, 6).join(' ') || '-'}${pids.length > 6 ? ' …' : ''}), ${o.owners.dead} dead`;
  }
  if (o.raw && o.raw.holds !== 'memory') {
    const what = o.raw.holds === 'value' ? `${o.raw.type}` : `${o.raw.type}[${o.raw.length}]`;
    return o.raw.lock ? `${what}, lock ${o.raw.lock}` : what;
  }
  return `${bytes(o.header?.payloadSize ?? 0)} of bytes`;
}

export function pidsText(o: ShmObject): string {
  if (o.users.length === 0) return '-';
  return o.users.map((u) => String(u.pid)).join(' ');
}

/** The `ls` table: kind, name, size, uid, mode, pids, state. */
export function lsTable(s: Scan): string {
  const rows = s.objects.map((o) => [
    o.kind === 'unknown' ? '?' : o.kind,
    hardWrap(o.name, 20),
    bytes(o.size),
    String(o.uid),
    modeString(o.mode),
    pidsText(o),
    stateText(o),
  ]);
  return table(['KIND', 'NAME', 'SIZE', 'UID', 'MODE', 'PIDS', 'STATE'], [7, 20, 6, 6, 5, 9, null], rows);
}

const big = (v: bigint): string => v.toString();

function lockJson(l: LockView | null | undefined): unknown {
  if (l == null) return null;
  return {
    locked: l.ownerId !== 0,
    ownerId: l.ownerId,
    holder:
      l.holder === null
        ? null
        : {
            ...l.holder,
            since: l.heldSince === null ? null : l.heldSince.at.toISOString(),
            sinceExact: l.heldSince === null ? null : l.heldSince.exact,
          },
    depth: l.depth,
    waiters: l.waiters,
    waitersBit: l.waitersBit,
    handoffTo: l.handoffTo,
    ownerDeaths: l.ownerDeaths,
    fence: big(l.fence),
    consistency: l.consistency,
    policy: l.policy,
    ownerTableId: l.ownerTableId.toString(16),
  };
}

/** The JSON form of one object (schema: src/cli/schema.ts). */
export function objectJson(o: ShmObject): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: o.name,
    file: o.file,
    kind: o.kind,
    status: o.status,
    problem: o.problem,
    size: o.size,
    uid: o.uid,
    mode: modeString(o.mode),
    modified: o.mtimeMs > 0 ? new Date(o.mtimeMs).toISOString() : null,
    layoutVersion: o.header?.version ?? null,
    users: o.users.map((u) => ({ pid: u.pid, command: u.comm, how: u.how })),
  };
  if (o.lock) out.lock = lockJson(o.lock);
  if (o.ring) {
    const r = o.ring;
    out.queue = {
      capacity: r.capacity,
      maxMessage: r.maxMessage,
      depth: r.depth,
      bytesUsed: r.bytesUsed,
      bytesFree: r.bytesFree,
      messagesIn: big(r.messagesIn),
      messagesOut: big(r.messagesOut),
      tail: big(r.tail),
      head: big(r.head),
      ended: r.ended,
      producersWaiting: r.producersWaiting,
      consumersWaiting: r.consumersWaiting,
      dataSeq: r.dataSeq,
      dataWake: { armed: r.dataWake.armed, wakeOwed: r.dataWake.wakeOwed },
      spaceSeq: r.spaceSeq,
      spaceWake: { armed: r.spaceWake.armed, wakeOwed: r.spaceWake.wakeOwed },
      producerLock: lockJson(r.producerLock),
      consumerLock: lockJson(r.consumerLock),
    };
  }
  if (o.owners) {
    out.owners = {
      tableId: o.owners.tableId.toString(16),
      live: o.owners.live.map((s) => ({
        slot: s.slot,
        ownerId: s.ownerId,
        pid: s.pid,
        tid: s.tid,
        threadId: s.threadId,
      })),
      dead: o.owners.dead,
    };
  }
  if (o.raw && o.raw.holds !== 'memory') out.value = { ...o.raw };
  return out;
}

export function scanJson(s: Scan): Record<string, unknown> {
  return {
    dir: s.dir,
    objects: s.objects.map(objectJson),
    unreadable: s.unreadable,
    unscannedProcesses: s.unscannedProcesses,
  };
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
