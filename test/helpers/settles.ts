/**
 * A promise's outcome within a failure bound: adversarial tests look at how a call ended
 * without letting a regression that hangs stall the suite.
 */

export type Outcome<T> = ['ok', T] | ['rejected', unknown] | ['HANG'];

/** `p`'s outcome, or 'HANG' if it has not settled within `ms` (a failure bound, not a sync). */
export async function settles<T>(p: Promise<T>, ms = 5000): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<['HANG']>((resolve) => (timer = setTimeout(() => resolve(['HANG']), ms)));
  try {
    return await Promise.race([
      p.then(
        (v): ['ok', T] => ['ok', v],
        (e: unknown): ['rejected', unknown] => ['rejected', e],
      ),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
