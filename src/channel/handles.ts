/**
 * Shared channel endpoints as handles: `toJSON()` gives `{ $shmsync: 'ChannelWriter' |
 * 'ChannelReader', name, queue, credits }` where `queue` (and `credits`) are themselves handles,
 * so a writer or reader travels by reference through pcall arguments, queue messages,
 * encodeHandles/decodeHandles (postMessage) or JSON + handleReviver, and revives on the other
 * side as an endpoint with its own queue handles (released by its close()/release()).
 * Callbacks do not travel (a CallbackChannelWriter revives as a ChannelWriter).
 * Runs in the reviving thread when this module is loaded.
 */
import { isHandleRef, registerHandleType, reviveHandle, type HandleRef } from '../wire/handle-ref';
import type { ShmQueue } from '../queue/queue';
import { valueError } from '../validate';
import { Channel } from './channel';
import { ChannelReader } from './reader';
import { ChannelWriter } from './writer';
import { SharedBackend } from './shared-backend';
import { isSharedQueueLike, type SharedQueueLike } from './shared-queue';

/** A fresh handle for a reference's queue field (a reference, or a live handle to reopen). */
function reopen(value: unknown, field: string): { queue: unknown; fresh: boolean } {
  if (isHandleRef(value)) return { queue: reviveHandle(value), fresh: true };
  if (isSharedQueueLike(value)) {
    const ref = typeof value.toJSON === 'function' ? value.toJSON() : undefined;
    if (isHandleRef(ref)) return { queue: reviveHandle(ref), fresh: true };
    return { queue: value, fresh: false };
  }
  throw valueError(`ref.${field}`, 'a queue handle or reference', value);
}

function channelOf(ref: HandleRef): Channel<unknown> {
  const { queue, fresh } = reopen(ref.queue, 'queue');
  let credits: ShmQueue<number> | null = null;
  if (ref.credits !== null && ref.credits !== undefined)
    credits = reopen(ref.credits, 'credits').queue as ShmQueue<number>;
  const backend = fresh
    ? new SharedBackend(queue as SharedQueueLike, 0, { credits })
    : new SharedBackend(queue as SharedQueueLike, 0);
  return new Channel({ shared: backend as never });
}

registerHandleType('ChannelWriter', (ref) => new ChannelWriter(channelOf(ref)), ChannelWriter);
registerHandleType('ChannelReader', (ref) => new ChannelReader(channelOf(ref)), ChannelReader);
