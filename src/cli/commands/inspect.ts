/** `shmsync inspect NAME`: one object in detail (header, decoded state words, users). */
import * as path from 'node:path';
import { bytes, c, heldForText, lockState, modeString, objectJson, printJson, stateText } from '../render';
import { fileFor, scan, shmDir, type LockView, type ShmObject } from '../segments';
import { CliError } from '../errors';

/** ` (armed)`, ` (wake owed)`: the flag bits of a ring futex word (native/core/ring-wake.h). */
function wakeNote(w: { armed: boolean; wakeOwed: boolean }): string {
  const flags = [w.armed ? 'armed' : '', w.wakeOwed ? 'wake owed' : ''].filter(Boolean);
  return flags.length > 0 ? ` (${flags.join(', ')})` : '';
}

/**
 * The state words as hex lines of 16 bytes, offsets from the start of the file: the very bytes
 * the decoded fields came from (one read, segments.ts), never a second read of the file.
 */
function stateHex(state: Buffer | undefined, length: number): string[] {
  if (state === undefined) return [];
  const n = Math.min(length, state.length);
  const out: string[] = [];
  for (let i = 0; i < n; i += 16) {
    out.push(
      `${(64 + i).toString(16).padStart(4, '0')}: ${state
        .subarray(i, Math.min(n, i + 16))
        .toString('hex')
        .replace(/(..)/g, '$1 ')
        .trim()}`,
    );
  }
  return out;
}

/** The header as plain JSON (the attach word's namespace inode is a u64: a decimal string). */
function headerJson(h: ShmObject['header']): unknown {
  if (h === null) return null;
  const { attach, ...rest } = h;
  return attach === undefined ? rest : { ...rest, attach: { ...attach, pidNamespace: attach.pidNamespace.toString() } };
}

/** The holder's start: exact, a waiter's bound, or why there is none. */
function sinceLine(l: LockView): string {
  const h = l.heldSince;
  if (h === null) {
    return l.heldSinceNote !== null
      ? `since: unknown (${l.heldSinceNote})`
      : 'since: not recorded (an uncontended hold that nobody has waited for)';
  }
  return h.exact
    ? `since ${h.at.toISOString()} (acquired then, ${heldForText(l)})`
    : `since at least ${h.at.toISOString()} (a waiter found it held then, ${heldForText(l)})`;
}

function lockLines(title: string, l: LockView | null): string[] {
  if (l === null) return [`${title}: unreadable`];
  return [
    `${title}: ${lockState(l)}`,
    `  word 0x${l.word.toString(16).padStart(8, '0')} (owner id ${l.ownerId}${l.waitersBit ? ', waiters bit' : ''}), handoff to ${l.handoffTo || '-'}`,
    `  holder: ${l.holder ? `pid ${l.holder.pid ?? '?'} tid ${l.holder.tid ?? '?'} thread ${l.holder.threadId ?? '?'}, ${l.holder.alive === null ? 'liveness unknown' : l.holder.alive ? 'alive' : 'dead'}, ${sinceLine(l)}` : '-'}`,
    `  waiters ${l.waiters}, owner deaths ${l.ownerDeaths}, fence ${l.fence}, depth ${l.depth}`,
    `  consistency ${l.consistency ?? `? (${l.consistencyCode})`}, policy ${l.policy ?? `? (${l.policyCode})`}, owner table ${l.ownerTableId.toString(16)}`,
  ];
}

export function inspect(name: string, opts: { json?: boolean }): number {
  const dir = shmDir();
  const file = fileFor(dir, name);
  const s = scan({ patterns: [file] });
  const o = s.objects.find((x) => x.file === file);
  if (o === undefined) {
    if (s.unreadable.includes(file)) throw new CliError(`${path.join(dir, file)}: not readable by this user`);
    throw new CliError(`no shmsync object "${name}" (${path.join(dir, file)} does not exist)`);
  }
  const stateLen = o.kind === 'queue' ? 512 : o.kind === 'mutex' ? 128 : 64;
  const hex = stateHex(o.stateBytes, stateLen);
  if (opts.json) {
    printJson({ ...objectJson(o), header: headerJson(o.header), stateHex: hex });
    return 0;
  }
  const h = o.header;
  const lines = [
    `${c.bold(o.name)}  (${path.join(dir, o.file)})`,
    `kind        ${o.kind}${o.status !== 'ok' ? `  ${o.status === 'corrupt' ? c.red('CORRUPT') : o.status}` : ''}`,
    ...(o.problem ? [`problem     ${c.red(o.problem)}`] : []),
    `size        ${o.size} bytes (${bytes(o.size)}), uid ${o.uid}, mode ${modeString(o.mode)}, modified ${new Date(o.mtimeMs).toISOString()}`,
    `users       ${o.users.length ? o.users.map((u) => `${u.pid} (${u.comm}, ${u.how})`).join(', ') : 'none: no live process maps it'}`,
  ];
  if (h) {
    lines.push(
      `header      magic 0x${h.magic.toString(16)}, layout version ${h.version}, kind ${h.kindCode}, flags ${h.flags}, total ${h.totalSize}, payload ${h.payloadSize} at ${h.payloadOffset}`,
    );
    if (h.attach)
      lines.push(
        `attached    ${h.attach.count === 65535 ? 'reaped' : `${h.attach.count} handle${h.attach.count === 1 ? '' : 's'}`}, ${h.attach.pending} hand-off${h.attach.pending === 1 ? '' : 's'} pending, lease ${h.attach.leaseLeftMs} ms left`,
      );
  }
  if (o.status !== 'corrupt' || o.lock || o.ring) {
    if (o.lock) lines.push(...lockLines('lock', o.lock));
    else if (o.ring) {
      const r = o.ring;
      lines.push(
        `queue       ${stateText(o)}`,
        `  capacity ${Number.isFinite(r.capacity) ? r.capacity : '? (beyond 2^31)'}, max message ${r.maxMessage}, tail ${r.tail}, head ${r.head}, in ${r.messagesIn}, out ${r.messagesOut}`,
        `  producers sleeping ${r.producersWaiting}, consumers sleeping ${r.consumersWaiting}, data seq ${r.dataSeq}${wakeNote(r.dataWake)}, space seq ${r.spaceSeq}${wakeNote(r.spaceWake)}`,
        ...lockLines('producer lock', r.producerLock),
        ...lockLines('consumer lock', r.consumerLock),
      );
    } else if (o.owners) {
      lines.push(
        `owners      table ${o.owners.tableId.toString(16)}, ${o.owners.live.length} live, ${o.owners.dead} dead`,
      );
      for (const l of o.owners.live)
        lines.push(`  slot ${l.slot}: owner id ${l.ownerId}, pid ${l.pid}, tid ${l.tid}, thread ${l.threadId}`);
    } else lines.push(`state       ${stateText(o)}`);
  }
  if (hex.length) lines.push('state words', ...hex.map((x) => `  ${x}`));
  console.log(lines.join('\n'));
  return 0;
}
