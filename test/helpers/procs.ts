/**
 * Processes seen through /proc: whether one still lives, and what a SIGKILLed parent leaves
 * behind (its children, which are not this process's children, and its segments).
 */
import * as fs from 'node:fs';

/** The fields of /proc/<pid>/stat after the command name (state first), or undefined if gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * The start time of process `pid` (field 22 of /proc/<pid>/stat, clock ticks after boot), or
 * undefined when it is gone. With the pid it names one process, even after the pid is reused.
 */
export function startTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/**
 * True while `pid` is a live process (a zombie waiting for its reaper counts as gone) and, when
 * `start` is given, still the process started then (not another one reusing the pid).
 */
export function alive(pid: number, start?: string): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== 'Z' && (start === undefined || fields[19] === start);
}

/**
 * The processes of `pids` (started at `starts`) still alive once all of them are gone or 10 s
 * have passed. For processes that are not this process's children: no exit event reaches it,
 * so it polls (every 20 ms, boundedly).
 */
export async function survivors(pids: number[], starts: Array<string | undefined>): Promise<number[]> {
  const living = (): number[] => pids.filter((pid, i) => alive(pid, starts[i]));
  const deadline = Date.now() + 10_000;
  while (living().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return living();
}

/**
 * Removes the segments a SIGKILLed process `pid` could not unlink, as `npm run clean-shm` would:
 * its unique names `shmsync-<kind>-<pid in base 36>-…`, for the given kinds ('queue', 'shm', …).
 */
export function removeSegmentsOf(pid: number, kinds: string[]): void {
  const prefixes = kinds.map((kind) => `shmsync-${kind}-${pid.toString(36)}-`);
  for (const name of fs.readdirSync('/dev/shm').filter((n) => prefixes.some((p) => n.startsWith(p)))) {
    fs.rmSync(`/dev/shm/${name}`, { force: true });
  }
}
