/**
 * Round counts of the stress tests. SHMSYNC_TEST_SCALE (a number in (0, 1], default 1) scales
 * them down: .ci/run runs the full counts on its last (newest) Node version and a fraction on the
 * others, which run the same scenarios again. Every scenario still runs;
 * only how many times it repeats changes.
 */
const raw = Number(process.env.SHMSYNC_TEST_SCALE ?? 1);
const scale = Number.isFinite(raw) && raw > 0 && raw <= 1 ? raw : 1;

/** `full` rounds at scale 1; never fewer than `min` (the count a test's own claims need). */
export function rounds(full: number, min = 1): number {
  return Math.max(min, Math.round(full * scale));
}
