/**
 * Control values of a relay (ktz `Control`) and the framing that keeps them apart from user data.
 * Either process uses this file.
 *
 * On a relay queue every record is an array whose first element is a tag: {@link kData} followed
 * by the arguments of one `send(...)`, or a control tag alone. User values only ever occupy the
 * positions after the tag, so no user message - whatever it contains - can be read as control.
 */

/** The control values: unique symbols (never produced by a structured clone of user data). */
export const Control = Object.freeze({
  /** "From upstream": one per finished sender, counted by the receiving group. */
  poison: Symbol.for('shmsync.actor.poison') as symbol,
  /** End of a stream (the handler queue convention; inside a group the queue's end() plays it). */
  eol: Symbol.for('shmsync.actor.eol') as symbol,
});
export type ControlValue = (typeof Control)[keyof typeof Control];

/** Tag of a user message: `[kData, ...args]`. */
export const kData = 0;
/** Tag of a poison pill: `[kPoison]`. */
export const kPoison = 1;
/** Tag of an end-of-line marker: `[kEol]`. */
export const kEol = 2;

/** The wire frame of one control value. */
export function controlFrame(value: ControlValue): [number] {
  return [value === Control.poison ? kPoison : kEol];
}

/** True when `value` is one of the Control symbols. */
export function isControl(value: unknown): value is ControlValue {
  return value === Control.poison || value === Control.eol;
}
