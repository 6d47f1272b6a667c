/** Channels (seed `async.channel`): see docs/channels.md. */
import './handles';
export { Channel, SerialChannel, type ChannelOptions } from './channel';
export { Writer, ChannelWriter, CallbackChannelWriter, type PreWriteCallback } from './writer';
export { Reader, ChannelReader, CallbackChannelReader, type PreReadCallback, type PostReadCallback } from './reader';
export { IteratorReader } from './iterator-reader';
export { mkchannel, type MkchannelOptions } from './mkchannel';
export { type Maxsize, type SharedOption } from './shared-backend';
export { type SharedQueueLike, type QueueWaitOptions } from './shared-queue';
export { type ToReadableOptions } from './interop-readable';
export { type ToWritableOptions } from './interop-writable';
