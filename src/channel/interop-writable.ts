/**
 * Writer -> Node Writable / web WritableStream, for code that pipes into a stream
 * (`pipeline(source, writer.toWritable())`, `readable.pipeTo(writer.toWritableStream())`).
 * Each chunk is one `writer.write(chunk)`: a bounded channel's backpressure reaches the stream
 * (its write callback waits). Finishing the stream closes the channel (`{ end: false }` keeps it
 * open, as `pipe(dest, { end: false })`); destroying/aborting it does not. JS thread only.
 */
import { Writable } from 'node:stream';
import { WritableStream, CountQueuingStrategy } from 'node:stream/web';
import { optionsObject, rejectUnknownOptions, validateBoolean, validateInteger } from '../validate';

export interface ToWritableOptions {
  /** Close the channel when the stream finishes (default true). */
  end?: boolean;
  /** Chunks buffered by the stream ahead of the channel (default 16). */
  highWaterMark?: number;
}

interface WriterLike<T> {
  write(item: T): Promise<void>;
  close(): void;
}

function parse(options: unknown): { end: boolean; highWaterMark: number } {
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, ['end', 'highWaterMark']);
  const end = opts.end ?? true;
  validateBoolean('options.end', end);
  const highWaterMark = opts.highWaterMark ?? 16;
  validateInteger('options.highWaterMark', highWaterMark, 1, 2 ** 31 - 1);
  return { end, highWaterMark };
}

export function toWritable<T>(writer: WriterLike<T>, options?: ToWritableOptions): Writable {
  const { end, highWaterMark } = parse(options);
  return new Writable({
    objectMode: true,
    highWaterMark,
    write(chunk: T, _encoding, callback): void {
      writer.write(chunk).then(() => callback(), callback);
    },
    final(callback): void {
      try {
        if (end) writer.close();
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}

export function toWritableStream<T>(writer: WriterLike<T>, options?: ToWritableOptions): WritableStream<T> {
  const { end, highWaterMark } = parse(options);
  return new WritableStream<T>(
    {
      write(chunk: T): Promise<void> {
        return writer.write(chunk);
      },
      close(): void {
        if (end) writer.close();
      },
    },
    new CountQueuingStrategy({ highWaterMark }),
  );
}
