/**
 * Channel test helpers: the fixture parties run (test/fixtures/channel-agent.js, in a process or a
 * worker thread: helpers/party.ts) and the exactly-once oracle over what readers report.
 */
import type { Message } from './fork';

/** The channel fixture every channel test runs as a ProcessParty or a WorkerParty. */
export const channelAgent = 'channel-agent.js';

export interface ReaderReport extends Message {
  seqs: Record<string, number[]>;
  reads: number;
  writerDied: boolean;
}

/**
 * Exactly-once oracle: over every reader's report, each writer id's sequences 0..count-1 appear
 * exactly once, and within one reader each writer's sequences are increasing (FIFO per writer).
 * Returns a list of problems (empty when the oracle holds).
 */
export function exactlyOnce(reports: ReaderReport[], counts: Record<string, number>): string[] {
  const problems: string[] = [];
  const seen: Record<string, Uint8Array> = {};
  for (const id of Object.keys(counts)) seen[id] = new Uint8Array(counts[id]);
  reports.forEach((r, ri) => {
    for (const [id, list] of Object.entries(r.seqs)) {
      const marks = seen[id];
      if (marks === undefined) {
        problems.push(`reader ${ri}: unknown writer id ${id}`);
        continue;
      }
      let last = -1;
      for (const seq of list) {
        if (!(seq >= 0 && seq < marks.length)) problems.push(`reader ${ri}: writer ${id} seq ${seq} out of range`);
        else if (marks[seq]++ !== 0) problems.push(`writer ${id} seq ${seq} delivered twice`);
        if (seq <= last) problems.push(`reader ${ri}: writer ${id} seq ${seq} after ${last} (order)`);
        last = seq;
        if (problems.length > 20) return;
      }
    }
  });
  for (const [id, marks] of Object.entries(seen)) {
    const missing = marks.indexOf(0);
    if (missing >= 0) problems.push(`writer ${id} seq ${missing} never delivered`);
  }
  return problems;
}
