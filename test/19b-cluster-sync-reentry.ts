// Issue 16 part 2, the server scenario: a node:cluster HTTP server with 2 workers doing a
// read-modify-write of a counter file under one Mutex, driven by a bounded load loop on
// 127.0.0.1 (test/fixtures/sync-reentry-cluster.js). For every API a user might pick the count
// is exact; the misuse (acquireSync held across an await) fails loudly on every request that
// overlaps another request of its worker - the first one included - instead of silently
// losing increments.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Mutex } from '../dist';
import { fixturesDir } from './helpers/fork';
import { testName } from './helpers/shm';

const host = '127.0.0.1';
type Reply = {
  status: number;
  body: { ok?: boolean; code?: string; message?: string; worker: number; overlapped: boolean };
};

function post(port: number, api: string, agent: http.Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method: 'POST', path: `/inc?api=${api}`, agent }, (res) => {
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

/** Sends `apis.length` requests, request i with apis[i], at most `concurrency` in flight. */
async function load(port: number, apis: string[], concurrency: number): Promise<Reply[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const replies: Reply[] = new Array(apis.length);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < apis.length) {
          const i = next++;
          replies[i] = await post(port, apis[i], agent);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return replies;
}

t.test(
  'cluster HTTP server, 2 workers: exact counts for every API; acquireSync across await fails loudly',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-syncrun-'));
    const counter = path.join(dir, 'counter');
    const name = testName('syncrun-cluster');
    const lock = new Mutex(name, { create: 'create' });
    const server: ChildProcess = spawn(process.execPath, [path.join(fixturesDir, 'sync-reentry-cluster.js')], {
      env: { ...process.env, HOST: host, WORKERS: '2', COUNTER: counter, MUTEX: name },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    const events = readline.createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
    const nextEvent = async (): Promise<{ event: string; port?: number; workers?: number[] }> => {
      const r = await events.next();
      if (r.done) throw new Error('the server exited early');
      return JSON.parse(r.value as string);
    };
    t.teardown(async () => {
      if (server.exitCode === null && server.signalCode === null) {
        server.kill('SIGKILL');
        await exited;
      }
      lock.close();
      Mutex.unlink(name);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const up = await nextEvent();
    t.equal(up.event, 'listening');
    t.equal(up.workers!.length, 2, 'two workers listen');
    const port = up.port!;
    const requests = 240;
    const concurrency = 8;
    const run = async (apis: string[]): Promise<Reply[]> => {
      fs.writeFileSync(counter, '0');
      return load(port, apis, concurrency);
    };
    const count = (): number => Number(fs.readFileSync(counter, 'utf8'));

    for (const api of ['acquire', 'withLock', 'locked', 'sync', 'lockedSync']) {
      const replies = await run(Array(requests).fill(api));
      t.same(
        replies.filter((r) => r.status !== 200).map((r) => r.body),
        [],
        `${api}: every request succeeded`,
      );
      t.equal(count(), requests, `${api}: the count is exact (${requests})`);
      t.equal(new Set(replies.map((r) => r.body.worker)).size, 2, `${api}: both workers served requests`);
    }

    // The misuse, and a non-async locked method holding across its promise: every request that
    // arrived while another request of its worker held the lock fails with the code; every other
    // one succeeds; the file counts exactly the successes.
    const misuses: Array<[string, string[], string]> = [
      ['syncAwait', Array(requests).fill('syncAwait'), 'SHMSYNC_SYNC_REENTRY'],
      [
        'syncAwait + lockedSync',
        Array.from({ length: requests }, (_, i) => (i % 2 === 0 ? 'syncAwait' : 'lockedSync')),
        'SHMSYNC_SYNC_REENTRY',
      ],
      ['lockedThenable', Array(requests).fill('lockedThenable'), 'SHMSYNC_DEADLOCK'],
    ];
    for (const [label, apis, code] of misuses) {
      const replies = await run(apis);
      const overlapped = replies.filter((r) => r.body.overlapped);
      const clear = replies.filter((r) => !r.body.overlapped);
      t.ok(
        overlapped.length > 0,
        `${label}: ${overlapped.length} of ${requests} requests overlapped another of their worker`,
      );
      t.same(
        overlapped.filter((r) => r.status !== 500 || r.body.code !== code).map((r) => r.body),
        [],
        `${label}: each overlapping request failed with ${code}`,
      );
      t.same(
        clear.filter((r) => r.status !== 200).map((r) => r.body),
        [],
        `${label}: every other request succeeded`,
      );
      t.equal(count(), clear.length, `${label}: the count is exact for the ${clear.length} successes (no lost update)`);
      if (label === 'syncAwait + lockedSync') {
        const lockedSync = replies.filter((r, i) => r.body.overlapped && apis[i] === 'lockedSync').length;
        t.ok(lockedSync > 0, `${label}: ${lockedSync} of them were the sync locked method, refused too`);
      }
    }
    t.equal(lock.info().locked, false, 'nothing holds the lock afterwards');

    server.kill('SIGTERM');
    t.same(await nextEvent(), { event: 'stopped' }, 'the workers shut down');
    t.equal(await exited, 0, 'the primary exits cleanly');
  },
);
