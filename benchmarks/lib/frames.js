'use strict';
// Length-prefixed framing for the Unix-socket peers: [u32 LE length][payload]. A frame is what
// a user of a stream socket must add to get messages back out of a byte stream.

const kHeader = 4;

function encodeFrame(payload) {
  const frame = Buffer.allocUnsafe(kHeader + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, kHeader);
  return frame;
}

/** Feeds stream chunks, calls onFrame(payloadView) per complete frame (views, no copy). */
class FrameDecoder {
  #rest = null;

  constructor(onFrame) {
    this.onFrame = onFrame;
  }

  push(chunk) {
    let buf = chunk;
    if (this.#rest !== null) {
      buf = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    }
    let off = 0;
    const len = buf.length;
    while (len - off >= kHeader) {
      const size = buf.readUInt32LE(off);
      if (len - off - kHeader < size) break;
      this.onFrame(buf.subarray(off + kHeader, off + kHeader + size));
      off += kHeader + size;
    }
    if (off < len) this.#rest = Buffer.from(buf.subarray(off));
  }
}

module.exports = { encodeFrame, FrameDecoder, kHeader };
