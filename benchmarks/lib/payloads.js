'use strict';
// The messages every transport benchmark sends, so all competitors move the same data.

/**
 * A 64-byte binary message with its own 64-byte ArrayBuffer. Not Buffer.allocUnsafe(): that
 * returns a view into a shared 8 KiB pool, and postMessage's structured clone copies the whole
 * backing ArrayBuffer, so every "64 B" message would move 8 KiB.
 */
function buffer64() {
  const b = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) b[i] = (i * 37 + 11) & 0xff;
  return b;
}

/** A small object message (~60 bytes as JSON). */
function smallObject(i = 0) {
  return { id: i, op: 'put', key: 'user:1042', value: 3.25, ok: true };
}

module.exports = { buffer64, smallObject };
