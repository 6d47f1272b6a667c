import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { SharedMemory } from '../dist';
import { segmentExists } from './helpers/shm';

/** A (sub)test object, as handed to t.test callbacks. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const serverJs = path.join(__dirname, '..', 'examples', 'cluster-inventory', 'server.js');
const host = '127.0.0.1';

type Event = { event: string; [key: string]: unknown };
type Stats = {
  items: Record<string, { initial: number; stock: number; sold: number }>;
  reservations: number;
  rejections: number;
  recoveries: number;
  ownerDeaths: number;
};
type Reply = { status: number; body: { ok?: boolean; item?: string; qty?: number; worker?: number } };

/** The example's primary process; its stdout is a stream of JSON events, awaited by name. */
class Server {
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #events: Event[] = [];
  #waiters: Array<{ event: string; resolve: (e: Event) => void; reject: (e: Error) => void }> = [];

  constructor() {
    this.proc = spawn(process.execPath, [serverJs, '0'], {
      env: { ...process.env, INVENTORY_DEBUG: '1', HOST: host, WORKERS: '4' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as Event;
      const i = this.#waiters.findIndex((w) => w.event === e.event);
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(e);
      else this.#events.push(e);
    });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        for (const w of this.#waiters.splice(0))
          w.reject(new Error(`server exited (${code}, ${signal}) before '${w.event}'`));
        resolve({ code, signal });
      }),
    );
  }

  next<T extends Event>(event: string): Promise<T> {
    const i = this.#events.findIndex((e) => e.event === event);
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0] as T);
    return new Promise((resolve, reject) =>
      this.#waiters.push({ event, resolve: resolve as (e: Event) => void, reject }),
    );
  }
}

function request(port: number, method: string, urlPath: string, agent: http.Agent | false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: urlPath, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends every reservation with at most `concurrency` in flight over keep-alive sockets. */
async function reserveAll(
  port: number,
  jobs: Array<{ item: string; qty: number }>,
  concurrency: number,
): Promise<Reply[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const replies: Reply[] = new Array(jobs.length);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < jobs.length) {
          const i = next++;
          replies[i] = await request(port, 'POST', `/reserve?item=${jobs[i].item}&qty=${jobs[i].qty}`, agent);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return replies;
}

/** A deterministic job list (mulberry32). */
function jobs(n: number, items: string[], seed: number): Array<{ item: string; qty: number }> {
  let a = seed;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: n }, () => ({
    item: items[Math.floor(rand() * items.length)],
    qty: 1 + Math.floor(rand() * 3),
  }));
}

/** Checks the stats against every reply so far. */
function checkTotals(t: TapTest, stats: Stats, replies: Reply[]): void {
  const soldByReplies: Record<string, number> = {};
  for (const r of replies) {
    if (r.status === 200) soldByReplies[r.body.item!] = (soldByReplies[r.body.item!] ?? 0) + r.body.qty!;
  }
  t.same(
    replies.filter((r) => r.status !== 200 && r.status !== 409),
    [],
    `all ${replies.length} reservations were answered 200 or 409`,
  );
  for (const [name, row] of Object.entries(stats.items)) {
    t.ok(row.stock >= 0 && row.sold <= row.initial, `${name}: not oversold (sold ${row.sold} of ${row.initial})`);
    t.equal(row.sold + row.stock, row.initial, `${name}: sold + remaining = initial`);
    t.equal(row.sold, soldByReplies[name] ?? 0, `${name}: sold = the quantities of the 200 replies`);
  }
  t.equal(stats.reservations, replies.filter((r) => r.status === 200).length, 'one reservation per 200 reply');
  t.equal(stats.rejections, replies.filter((r) => r.status === 409).length, 'one rejection per 409 reply');
}

t.test('cluster inventory: 4 workers, 2000 concurrent reservations, a worker killed holding the lock', async (t) => {
  const server = new Server();
  let segments: string[] = [];
  t.teardown(async () => {
    if (server.proc.exitCode === null && server.proc.signalCode === null) {
      server.proc.kill('SIGKILL');
      await server.exited;
    }
    for (const name of segments) if (segmentExists(name)) SharedMemory.unlink(name);
  });
  const up = await server.next<Event & { port: number; workers: number[]; segments: string[] }>('listening');
  segments = up.segments;
  t.equal(up.workers.length, 4, 'the primary reports 4 workers');
  t.ok(segments.every(segmentExists), 'the shared state exists');

  const first = await request(up.port, 'GET', '/stats', false);
  const items = Object.keys((first.body as unknown as Stats).items);
  const phase1 = await reserveAll(up.port, jobs(2000, items, 42), 64);
  const servedBy = new Set(phase1.map((r) => r.body.worker));
  t.ok(servedBy.size >= 2, `requests were served by ${servedBy.size} workers`);
  t.ok(
    phase1.some((r) => r.status === 409),
    'demand exceeded some stock',
  );
  const stats1 = (await request(up.port, 'GET', '/stats', false)).body as unknown as Stats;
  checkTotals(t, stats1, phase1);
  t.equal(stats1.recoveries, 0);

  // Take the lock in some worker and kill that worker at the moment it reports holding it.
  const hold = http.request({ host, port: up.port, method: 'POST', path: '/debug/hold', agent: false });
  hold.on('error', () => {}); // the socket dies with the worker
  hold.end();
  const holding = await new Promise<{ holding: boolean; pid: number }>((resolve) =>
    hold.on('response', (res) => {
      res.on('error', () => {});
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n')) resolve(JSON.parse(text.slice(0, text.indexOf('\n'))));
      });
    }),
  );
  t.ok(holding.holding && up.workers.includes(holding.pid), `worker ${holding.pid} holds the lock`);
  process.kill(holding.pid, 'SIGKILL');
  const exit = await server.next<Event & { pid: number; code: number | null; signal: string | null }>('exit');
  t.same({ pid: exit.pid, code: exit.code, signal: exit.signal }, { pid: holding.pid, code: null, signal: 'SIGKILL' });
  const replaced = await server.next<Event & { old: number; pid: number }>('replaced');
  t.equal(replaced.old, holding.pid, `the primary forked a replacement (${replaced.pid})`);

  const phase2 = await reserveAll(up.port, [{ item: 'apple', qty: 1 }, ...jobs(399, items, 7)], 64);
  t.ok(
    phase2.some((r) => r.status === 200),
    'reservations succeed after the crash',
  );
  t.ok(
    phase2.some((r) => r.body.worker === replaced.pid),
    'the replacement serves requests',
  );
  const stats2 = (await request(up.port, 'GET', '/stats', false)).body as unknown as Stats;
  checkTotals(t, stats2, [...phase1, ...phase2]);
  t.equal(stats2.recoveries, 1, 'the next acquirer saw ownerDied (once)');
  t.ok(stats2.ownerDeaths >= 1, 'the mutex counted the owner death');

  server.proc.kill('SIGTERM');
  await server.next('stopped');
  const workersLeft = [...up.workers.filter((p) => p !== holding.pid), replaced.pid];
  const exits: Array<{ pid: number; code: number | null; signal: string | null }> = [];
  for (let i = 0; i < workersLeft.length; i++)
    exits.push(await server.next<Event & { pid: number; code: number | null; signal: string | null }>('exit'));
  t.same(exits.map((e) => e.pid).sort(), workersLeft.sort(), 'every worker exited');
  t.ok(
    exits.every((e) => e.code === 0 && e.signal === null),
    'cleanly',
  );
  t.same(await server.exited, { code: 0, signal: null }, 'the primary exits cleanly on SIGTERM');
  t.same(segments.filter(segmentExists), [], 'and unlinked every segment');
});
