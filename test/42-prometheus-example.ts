// examples/prometheus: the server exports shmsync lock/queue metrics; scraped over HTTP.
import t from 'tap';
import * as http from 'node:http';
import * as path from 'node:path';
import { Child } from './helpers/fork';
import { segmentExists, testName } from './helpers/shm';

function get(url: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => {
            body += d;
          })
          .on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

const value = (body: string, metric: string): number => {
  const line = body.split('\n').find((l) => l.startsWith(metric));
  if (line === undefined) throw new Error(`no ${metric} in\n${body}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
};

t.test('scrape /metrics: lock wait/hold histograms, queue depth and full events', async (t) => {
  const tag = testName('prom');
  const server = new Child(path.join('..', '..', 'examples', 'prometheus', 'server.js'), ['0'], {
    env: { ...process.env, EXAMPLE_NAME: tag },
  });
  t.teardown(() => server.kill());
  const { port } = await server.message<{ type: string; port: number }>('listening');
  const base = `http://127.0.0.1:${port}`;
  server.send({ type: 'work', n: 20 });
  await server.message('worked');
  const r = await get(`${base}/metrics`);
  t.equal(r.status, 200);
  t.match(r.type, /text\/plain/);
  const lock = `${tag}-lock`;
  const q = `${tag}-jobs`;
  t.equal(value(r.body, `shmsync_lock_wait_seconds_count{lock="${lock}"}`), 40, 'one wait observation per acquisition');
  t.equal(value(r.body, `shmsync_lock_hold_seconds_count{lock="${lock}"}`), 40, 'one hold observation per release');
  t.ok(value(r.body, `shmsync_lock_wait_seconds_sum{lock="${lock}"}`) > 0, 'the contended half waited');
  t.ok(value(r.body, `shmsync_lock_hold_seconds_sum{lock="${lock}"}`) > 0);
  t.match(r.body, new RegExp(`shmsync_lock_wait_seconds_bucket\\{le="0.001",lock="${lock}"\\} \\d+`));
  t.ok(value(r.body, `shmsync_queue_depth{queue="${q}"}`) > 0, 'queue depth read at scrape time');
  t.equal(value(r.body, `shmsync_queue_full_total{queue="${q}"}`), 1, 'the last put found it full');
  t.ok(value(r.body, `shmsync_queue_bytes_used{queue="${q}"}`) > 0);
  t.equal((await get(`${base}/other`)).status, 404);
  server.send({ type: 'stop' });
  await server.exited;
  t.notOk(segmentExists(lock), 'the example unlinks its lock');
  t.notOk(segmentExists(q), 'and its queue');
});
