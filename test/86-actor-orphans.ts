// Actors and relays (issue 12): a main process killed with SIGKILL leaves no actor running. Each
// actor process exits on its IPC 'disconnect' (the kernel closes the channel), which a busy actor
// still sees: the runtime returns to the event loop every few milliseconds.
import t from 'tap';
import { Child } from './helpers/fork';
import { alive, removeSegmentsOf, startTime, survivors } from './helpers/procs';

delete process.env.NODE_OPTIONS;

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
    // Not our children: no exit event reaches this process (survivors() polls, boundedly).
    t.same(await survivors(pids, starts), [], 'no orphan left');
    // A SIGKILLed parent cannot unlink its relay's segments.
    removeSegmentsOf(parent.proc.pid!, ['queue', 'array']);
  });
}
