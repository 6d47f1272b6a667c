/** `shmsync ls [pattern…]`: every shmsync object this user can read. */
import { c, lsTable, printJson, scanJson } from '../render';
import { scan } from '../segments';

export function ls(patterns: string[], opts: { json?: boolean }): number {
  const s = scan({ patterns });
  if (opts.json) {
    printJson(scanJson(s));
    return 0;
  }
  if (s.objects.length === 0)
    console.log(`no shmsync objects in ${s.dir}${patterns.length ? ` matching ${patterns.join(' ')}` : ''}`);
  else console.log(lsTable(s));
  const notes: string[] = [];
  if (s.unreadable.length)
    notes.push(`${s.unreadable.length} segment(s) not readable by this user: ${s.unreadable.join(' ')}`);
  if (s.unscannedProcesses)
    notes.push(`${s.unscannedProcesses} process(es) could not be read: their mappings are unknown`);
  for (const n of notes) console.log(c.dim(n));
  return 0;
}
