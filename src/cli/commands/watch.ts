/**
 * `shmsync watch [NAME]`: a live table of lock holders and queue depths, refreshed every
 * --interval ms (a terminal is cleared between frames; --json prints one JSON line per frame).
 * --count N stops after N frames. Reads only, like `ls`.
 */
import { c, hardWrap, holderText, objectJson, stateText, table } from '../render';
import { fileFor, scan, shmDir, type ShmObject } from '../segments';
import { UsageError } from '../errors';

function frameTable(objects: ShmObject[]): string {
  const rows = objects.map((o) => {
    if (o.lock)
      return [
        o.kind,
        hardWrap(o.name, 22),
        o.lock.ownerId === 0 ? 'free' : holderText(o.lock),
        String(o.lock.waiters),
        stateText(o),
      ];
    if (o.ring)
      return [
        o.kind,
        hardWrap(o.name, 22),
        `${o.ring.depth} msgs`,
        String(o.ring.producersWaiting + o.ring.consumersWaiting),
        stateText(o),
      ];
    return [o.kind, hardWrap(o.name, 22), '', '', stateText(o)];
  });
  return table(['KIND', 'NAME', 'HOLDER/DEPTH', 'WAIT', 'STATE'], [7, 22, 20, 5, null], rows);
}

export async function watch(
  name: string | undefined,
  opts: { interval?: string; count?: string; json?: boolean },
): Promise<number> {
  const interval = Number(opts.interval ?? 1000);
  if (!(interval >= 50)) throw new UsageError(`--interval must be at least 50 (ms), got ${opts.interval}`);
  const count = opts.count === undefined ? Infinity : Number(opts.count);
  if (!(count >= 1) || !Number.isInteger(count === Infinity ? 1 : count))
    throw new UsageError(`--count must be a positive integer, got ${opts.count}`);
  const patterns = name === undefined ? [] : [fileFor(shmDir(), name)];
  const tty = process.stdout.isTTY === true && !opts.json;
  let frames = 0;
  let stop = false;
  let wake: (() => void) | null = null;
  const onSigint = (): void => {
    stop = true;
    wake?.();
  };
  process.on('SIGINT', onSigint);
  try {
    while (!stop && frames < count) {
      const s = scan({ patterns });
      const shown = s.objects.filter((o) => o.kind === 'mutex' || o.kind === 'queue' || o.status === 'corrupt');
      frames += 1;
      if (opts.json) {
        process.stdout.write(JSON.stringify({ time: new Date().toISOString(), objects: shown.map(objectJson) }) + '\n');
      } else {
        if (tty) process.stdout.write('\x1b[H\x1b[2J');
        const head = c.dim(
          `shmsync watch ${name ?? ''} — ${new Date().toISOString()}, every ${interval} ms${tty ? ' (Ctrl-C to stop)' : ''}`,
        );
        console.log(`${head}\n${shown.length ? frameTable(shown) : 'no locks or queues'}${tty ? '' : '\n'}`);
      }
      if (frames >= count) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, interval);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  return 0;
}
