/** Segment bookkeeping for tests: unique names and a check of what is left in /dev/shm. */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';

/** A logical name unique to this test run. */
export function testName(tag: string): string {
  return `test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Whether the segment for a logical name exists in /dev/shm. */
export function segmentExists(logicalName: string): boolean {
  return fs.existsSync(`/dev/shm/shmsync-${logicalName}`);
}

/** Mode bits of a segment, read back from the file system (root bypasses permission checks). */
export function segmentMode(logicalName: string): number {
  return fs.statSync(`/dev/shm/shmsync-${logicalName}`).mode & 0o777;
}
