/**
 * Logical names -> segment names. Users give short logical names; every segment in
 * /dev/shm is `shmsync-<logical name>`, so the tools and the test suite can find ours.
 */
import { randomBytes } from 'node:crypto';
import { binding } from '../binding';
import { validateName } from '../validate';

export const kSegmentPrefix = 'shmsync-';

export function segmentNameFor(logicalName: string): string {
  return kSegmentPrefix + logicalName;
}

/** A fresh logical name for an object created without one, e.g. `mutex-3f9a...`. */
export function uniqueName(kind: string): string {
  return `${kind}-${process.pid.toString(36)}-${randomBytes(8).toString('hex')}`;
}

/** Removes the segment of a logical name. Returns false if it did not exist. */
export function unlinkByName(name: string): boolean {
  validateName('name', name);
  return binding.Region.unlink(segmentNameFor(name));
}
