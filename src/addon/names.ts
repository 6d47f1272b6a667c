/**
 * Logical names -> segment names. Users give short logical names; every segment in
 * /dev/shm is `shmsync-<logical name>`, so the tools and the test suite can find ours.
 */
import { randomBytes } from 'node:crypto';
import { binding } from './binding';
import { validateName } from '../validate';

export const kSegmentPrefix = 'shmsync-';

export function segmentNameFor(logicalName: string): string {
  return kSegmentPrefix + logicalName;
}

/** Per-context random half of unique names (contexts of one process share the pid). */
let contextTag: string | null = null;
let counter = 0;

/**
 * A fresh logical name for an object created without one, e.g. `mutex-3f9a-0c1d2e3f-1k`:
 * kind, pid in base 36, 8 random hex digits drawn once per JS context, and a base-36 counter
 * (cheap enough for an object created per request).
 */
export function uniqueName(kind: string): string {
  if (contextTag === null || counter >= Number.MAX_SAFE_INTEGER) {
    contextTag = `-${process.pid.toString(36)}-${randomBytes(4).toString('hex')}-`;
    counter = 0;
  }
  counter += 1;
  return kind + contextTag + counter.toString(36);
}

/** Removes the segment of a logical name. Returns false if it did not exist. */
export function unlinkByName(name: string): boolean {
  validateName('name', name);
  return binding.Region.unlink(segmentNameFor(name));
}
