/**
 * `shmsync rm NAME…` and `shmsync gc [pattern…]`. A segment is in use while a live process maps it
 * or holds it open, judged by device + inode (src/cli/proc.ts). Removal re-checks the file's
 * identity just before unlink(), so a name re-created meanwhile is never removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binding } from '../../addon/binding';
import { pidNamespaceOf } from '../../addon/lifetime';
import { c, objectJson, printJson, stateText } from '../render';
import { fileFor, kTmpPrefix, scan, shmDir, type ShmObject } from '../segments';

function unlinkSame(dir: string, o: ShmObject): 'removed' | 'gone' | 'replaced' | string {
  const file = path.join(dir, o.file);
  if (o.header?.attach !== undefined && dir === '/dev/shm') {
    // Attached lifetime: reap through its attach word (one CAS to "reaped" first), so an open
    // racing this removal fails cleanly instead of attaching to a name being removed.
    try {
      return binding.reapSegment(o.file, Number(o.ino), true) === 1 ? 'removed' : 'replaced';
    } catch (err) {
      return (err as Error).message;
    }
  }
  try {
    const st = fs.lstatSync(file, { bigint: true });
    if (st.dev !== o.dev || st.ino !== o.ino) return 'replaced';
    fs.unlinkSync(file);
    return 'removed';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'gone' : `${code ?? (err as Error).message}`;
  }
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Why `o` must be kept by gc, or null when nothing uses it. */
export function keepReason(o: ShmObject, unscanned: number): string | null {
  if (o.users.length > 0) return `in use by ${o.users.map((u) => u.pid).join(' ')}`;
  const attach = o.header?.attach;
  if (attach !== undefined && attach.count === 0 && attach.pending > 0 && attach.leaseLeftMs > 0) {
    // A reference to it is in flight (a queue message, a pcall argument) and may still be opened.
    return `hand-off in flight (lease ends in ${Math.ceil(attach.leaseLeftMs / 1000)} s)`;
  }
  if (attach !== undefined && attach.count !== 0 && attach.pidNamespace !== pidNamespaceOf()) {
    // Its users may live in another PID namespace sharing /dev/shm, invisible in our /proc.
    return 'attached in another PID namespace (its users are not visible here)';
  }
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0 && o.uid !== uid) return 'owned by another user';
  if (o.file.startsWith(kTmpPrefix)) {
    // A creator holds its staging file only by fd between shm_open and mmap: spare it while
    // the pid in its name lives.
    const pid = Number(/^shmsync\.tmp-(\d+)-/.exec(o.file)?.[1]);
    if (pid > 0 && pidAlive(pid)) return `staging file of live pid ${pid}`;
  }
  if (unscanned > 0 && (o.mode & 0o066) !== 0) return 'other users may map it (their processes are not readable)';
  return null;
}

export function gc(patterns: string[], opts: { yes?: boolean; json?: boolean }): number {
  const dir = shmDir();
  const s = scan({ patterns });
  const results: Array<{
    name: string;
    file: string;
    action: string;
    reason: string | null;
    object: Record<string, unknown>;
  }> = [];
  let failed = 0;
  for (const o of s.objects) {
    const reason = keepReason(o, s.unscannedProcesses);
    let action: string;
    if (reason !== null) action = 'kept';
    else if (!opts.yes) action = 'would remove';
    else {
      const r = unlinkSame(dir, o);
      action = r === 'removed' ? 'removed' : r === 'gone' ? 'gone' : r === 'replaced' ? 'kept' : `failed: ${r}`;
      if (action.startsWith('failed')) failed += 1;
    }
    results.push({
      name: o.name,
      file: o.file,
      action,
      reason: action === 'kept' && reason === null ? 're-created meanwhile' : reason,
      object: objectJson(o),
    });
  }
  if (opts.json) {
    printJson({ dir, dryRun: !opts.yes, results });
    return failed ? 1 : 0;
  }
  const byAction = (a: string): typeof results => results.filter((r) => r.action === a);
  for (const r of results) {
    const o = s.objects.find((x) => x.file === r.file)!;
    const line = `${r.action.padEnd(12)} ${r.file}  ${r.reason ? `(${r.reason})` : `(${o.kind}, ${stateText(o)})`}`;
    console.log(r.action === 'kept' ? c.dim(line) : r.action.startsWith('failed') ? c.red(line) : line);
  }
  const would = byAction('would remove').length;
  if (!opts.yes) console.log(`${would} segment(s) no live process uses; run with --yes to remove them`);
  else console.log(`removed ${byAction('removed').length} segment(s)`);
  return failed ? 1 : 0;
}

export function rm(names: string[], opts: { force?: boolean; json?: boolean }): number {
  const dir = shmDir();
  const files = names.map((n) => fileFor(dir, n));
  const s = scan({ patterns: files });
  const results: Array<{ name: string; file: string; action: string; reason: string | null }> = [];
  let failed = 0;
  for (const [i, file] of files.entries()) {
    const o = s.objects.find((x) => x.file === file);
    let action: string;
    let reason: string | null = null;
    if (o === undefined) {
      action = 'failed';
      reason = s.unreadable.includes(file) ? 'not readable by this user' : 'no such object';
    } else if (o.users.length > 0 && !opts.force) {
      action = 'failed';
      reason = `in use by ${o.users.map((u) => u.pid).join(' ')} (--force removes the name anyway; its users keep their mappings)`;
    } else {
      const r = unlinkSame(dir, o);
      action = r === 'removed' || r === 'gone' ? r : 'failed';
      if (action === 'failed') reason = r === 'replaced' ? 're-created meanwhile' : r;
    }
    if (action === 'failed') failed += 1;
    results.push({ name: names[i], file, action, reason });
  }
  if (opts.json) printJson({ dir, results });
  else {
    for (const r of results) {
      if (r.action === 'failed') console.error(c.red(`shmsync rm: ${r.name}: ${r.reason}`));
      else console.log(`${r.action} ${r.file}`);
    }
  }
  return failed ? 1 : 0;
}
