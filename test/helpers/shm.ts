/** Segment bookkeeping for tests: unique names and a check of what is left in /dev/shm. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

/**
 * The id of this suite run (scripts/run-tap.js sets SHMSYNC_TEST_RUN; 'R0' when tap runs
 * directly). Every name from testName carries it, so the suite's leak check finds what a test
 * left behind, and nothing another program owns.
 */
export const runId = process.env.SHMSYNC_TEST_RUN ?? 'R0';

/** A logical name unique to this test run. */
export function testName(tag: string): string {
  return `test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}-${runId}`;
}

/** Whether the segment for a logical name exists in /dev/shm. */
export function segmentExists(logicalName: string): boolean {
  return fs.existsSync(`/dev/shm/shmsync-${logicalName}`);
}

/** Mode bits of a segment, read back from the file system (root bypasses permission checks). */
export function segmentMode(logicalName: string): number {
  return fs.statSync(`/dev/shm/shmsync-${logicalName}`).mode & 0o777;
}
