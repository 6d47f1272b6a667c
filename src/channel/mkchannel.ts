/**
 * mkchannel (seed `async.channel.mkchannel`): creates a channel and its two ends, returned as
 * `[writer, reader]` (Decision 11: what the seed's code and tests do; its docstring said the
 * reverse). JS thread only.
 */
import { optionsObject, rejectUnknownOptions, typeError } from '../validate';
import { Channel, type ChannelOptions } from './channel';
import { ChannelReader } from './reader';
import { ChannelWriter } from './writer';

type Ctor<A, R> = new (arg: A) => R;

export interface MkchannelOptions<T = unknown> extends ChannelOptions {
  /** Channel class (default Channel; SerialChannel for one thread, fastest). */
  ctype?: new (options?: ChannelOptions) => Channel<T>;
  /** Writer class (default ChannelWriter; CallbackChannelWriter for a pre-write callback). */
  wtype?: Ctor<Channel<T>, ChannelWriter<T>>;
  /** Reader class (default ChannelReader; CallbackChannelReader for callbacks). */
  rtype?: Ctor<Channel<T>, ChannelReader<T>>;
}

export function mkchannel<
  T = unknown,
  W extends ChannelWriter<T> = ChannelWriter<T>,
  R extends ChannelReader<T> = ChannelReader<T>,
>(options?: MkchannelOptions<T> & { wtype?: Ctor<Channel<T>, W>; rtype?: Ctor<Channel<T>, R> }): [W, R] {
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, ['ctype', 'wtype', 'rtype', 'maxsize', 'shared']);
  const ctype = (opts.ctype ?? Channel) as new (o?: ChannelOptions) => Channel<T>;
  const wtype = (opts.wtype ?? ChannelWriter) as Ctor<Channel<T>, W>;
  const rtype = (opts.rtype ?? ChannelReader) as Ctor<Channel<T>, R>;
  if (typeof ctype !== 'function' || !(ctype === Channel || ctype.prototype instanceof Channel)) {
    throw typeError('options.ctype', 'Channel or a subclass (SerialChannel)', ctype);
  }
  if (typeof wtype !== 'function' || !(wtype === ChannelWriter || wtype.prototype instanceof ChannelWriter)) {
    throw typeError('options.wtype', 'ChannelWriter or a subclass', wtype);
  }
  if (typeof rtype !== 'function' || !(rtype === ChannelReader || rtype.prototype instanceof ChannelReader)) {
    throw typeError('options.rtype', 'ChannelReader or a subclass', rtype);
  }
  const channelOptions: ChannelOptions = {};
  if (opts.maxsize !== undefined) channelOptions.maxsize = opts.maxsize as ChannelOptions['maxsize'];
  if (opts.shared !== undefined) channelOptions.shared = opts.shared as ChannelOptions['shared'];
  const channel = new ctype(channelOptions);
  const writer = new wtype(channel);
  let reader: R;
  try {
    reader = new rtype(channel);
  } catch (err) {
    writer.release();
    throw err;
  }
  return [writer, reader];
}
