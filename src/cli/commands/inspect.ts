/** `shmsync inspect NAME`: one object in detail (header, decoded state words, users). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bytes, c, heldForText, lockState, modeString, objectJson, printJson, stateText } from '../render';
import { fileFor, scan, shmDir, type LockView } from '../segments';
import { CliError } from '../errors';

/** The first bytes of the payload (the state words), as hex lines of 16 bytes. */
/** ` (armed)`, ` (wake owed)`: the flag bits of a ring futex word (native/core/ring-wake.h). */
function wakeNote(w: { armed: boolean; wakeOwed: boolean }): string {
  const flags = [w.armed ? 'armed' : '', w.wakeOwed ? 'wake owed' : ''].filter(Boolean);
  return flags.length > 0 ? ` (${flags.join(', ')})` : '';
}

function stateHex(file: string, length: number): string[] {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, 64);
    const out: string[] = [];
    for (let i = 0; i < n; i += 16) {
      out.push(
        `${(64 + i).toString(16).padStart(4, '0')}: ${buf
          .subarray(i, Math.min(n, i + 16))
          .toString('hex')
          .replace(/(..)/g, '$1 ')
          .trim()}`,
      );
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
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
  const hex = o.size > 64 ? stateHex(path.join(dir, file), Math.min(stateLen, o.size - 64)) : [];
  if (opts.json) {
    printJson({ ...objectJson(o), header: o.header, stateHex: hex });
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
  }
  if (o.status !== 'corrupt' || o.lock || o.ring) {
    if (o.lock) lines.push(...lockLines('lock', o.lock));
    else if (o.ring) {
      const r = o.ring;
      lines.push(
        `queue       ${stateText(o)}`,
        `  capacity ${r.capacity}, max message ${r.maxMessage}, tail ${r.tail}, head ${r.head}, in ${r.messagesIn}, out ${r.messagesOut}`,
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
