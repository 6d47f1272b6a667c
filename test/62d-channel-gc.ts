import t from 'tap';
import * as path from 'node:path';
import { execFile } from 'node:child_process';

// Decision 13: FinalizationRegistry as the safety net for endpoints never closed. A child run
// with --expose-gc drops a writer and a reader of a shared channel without close(); once they
// are collected, the channel's queue handles are released and the writer's shared hold on
// `<queue>.writers` is gone (failed before: nothing was released until exit).

t.test('endpoints collected without close() release their handles and the writer registration', async (t) => {
  const fixture = path.join(__dirname, 'fixtures', 'channel-gc.js');
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--expose-gc', fixture], { timeout: 20_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
  t.same(JSON.parse(out.trim()), { released: true, exclusive: true, queueClosed: true });
});
