// Actors and relays (issue 12): a main process killed with SIGKILL leaves no actor running. Each
// actor process exits on its IPC 'disconnect' (the kernel closes the channel), which a busy actor
// still sees: the runtime returns to the event loop every few milliseconds.
import t from 'tap';
import * as fs from 'node:fs';
import { Child } from './helpers/fork';

delete process.env.NODE_OPTIONS;

function startTime(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True while `pid` is a live process started at `start` (a zombie counts as gone). */
function alive(pid: number, start: string | undefined): boolean {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return fields[0] !== 'Z' && fields[19] === start;
  } catch {
    return false;
  }
}

for (const maxsize of [0, 4]) {
  t.test(`SIGKILL of the relay's process leaves no actor (maxsize ${maxsize})`, async (t) => {
    // maxsize 0: the producer never waits (it must yield by itself); 4: it waits on credits.
    const parent = new Child('actors/relay-parent.js', [String(maxsize)]);
    const { pids } = await parent.message<{ type: string; pids: number[] }>('ready');
    const starts = pids.map(startTime);
    t.ok(
      pids.every((pid, i) => alive(pid, starts[i])),
      'both actors run',
    );
    parent.kill('SIGKILL');
    t.same(await parent.exited, { code: null, signal: 'SIGKILL' });
    // Not our children: no exit event reaches this process, so poll, boundedly.
    const deadline = Date.now() + 10_000;
    while (pids.some((pid, i) => alive(pid, starts[i])) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    t.same(
      pids.filter((pid, i) => alive(pid, starts[i])),
      [],
      'no orphan left',
    );
    // A SIGKILLed parent cannot unlink its relay's segments: remove them as `npm run clean-shm`
    // would (unique names carry the creator's pid in base 36).
    const pid36 = parent.proc.pid!.toString(36);
    for (const name of fs
      .readdirSync('/dev/shm')
      .filter((n) => /^shmsync-(queue|array)-/.test(n) && n.split('-')[2] === pid36)) {
      fs.rmSync(`/dev/shm/${name}`, { force: true });
    }
  });
}
