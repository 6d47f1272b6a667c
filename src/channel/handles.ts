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
import { ShmQueue } from '../queue/queue';
import { RwLock } from '../rwlock/rw-lock';
import { valueError } from '../validate';
import { Channel } from './channel';
import { ChannelReader } from './reader';
import { ChannelWriter } from './writer';
import { SharedBackend } from './shared-backend';
import { isSharedQueueLike, type SharedQueueLike } from './shared-queue';

/**
 * A fresh handle for a reference field: a nested reference is revived; a live handle (a decoder
 * that revived the nested reference already) is adopted as this endpoint's own.
 */
function open<H>(value: unknown, field: string, live: (v: unknown) => v is H): H {
  if (isHandleRef(value)) return reviveHandle<H>(value);
  if (live(value)) return value;
  throw valueError(`ref.${field}`, 'a handle reference', value);
}

const isQueue = (v: unknown): v is SharedQueueLike => isSharedQueueLike(v);
const isShmQueue = (v: unknown): v is ShmQueue<number> => v instanceof ShmQueue;

/**
 * The writer lock of a reference: a live RwLock (a decoder revived the nested reference) is
 * adopted; an RwLock reference is revived (consuming its hand-off); a lock whose every handle is
 * gone meanwhile - or a bare `{ name, lifetime }` - is opened or re-created by name.
 */
function openWriters(value: unknown): RwLock {
  if (value instanceof RwLock) return value;
  const v = value as { name?: unknown; lifetime?: unknown };
  if (typeof v !== 'object' || v === null || typeof v.name !== 'string') {
    throw valueError('ref.writers', '{ name, lifetime }', value);
  }
  if (isHandleRef(value) && value.$shmsync === 'RwLock') {
    try {
      return reviveHandle<RwLock>(value);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SHMSYNC_NOT_FOUND') throw err;
    }
  }
  return new RwLock(v.name, { lifetime: v.lifetime === 'persistent' ? 'persistent' : 'attached' });
}

function channelOf(ref: HandleRef): Channel<unknown> {
  const queue = open(ref.queue, 'queue', isQueue);
  const credits = ref.credits === null || ref.credits === undefined ? null : open(ref.credits, 'credits', isShmQueue);
  const writers = ref.writers === null || ref.writers === undefined ? null : openWriters(ref.writers);
  return new Channel({ shared: new SharedBackend(queue, 0, { credits, writers }) as never });
}

registerHandleType('ChannelWriter', (ref) => new ChannelWriter(channelOf(ref)), ChannelWriter);
registerHandleType('ChannelReader', (ref) => new ChannelReader(channelOf(ref)), ChannelReader);
