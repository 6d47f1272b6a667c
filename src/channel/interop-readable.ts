/**
 * Reader -> Node Readable / web ReadableStream. Both pull: a read happens only when the
 * consumer wants data (backpressure), first taking what is ready without waiting (up to what
 * the stream asks for), else waiting for one item. An empty read ([]: the channel is closed and
 * drained, or a non-waiting source is empty) ends the stream. Destroying / cancelling the stream
 * aborts a pending wait; the reader itself stays open (close it yourself). JS thread only.
 *
 * Node object-mode streams cannot carry `null` (it means end of stream): a null item destroys
 * the Readable with a coded TypeError instead of silently ending it.
 */
import { Readable } from 'node:stream';
import { ReadableStream, CountQueuingStrategy } from 'node:stream/web';
import { ArgumentValueError } from '../errors';
import { optionsObject, rejectUnknownOptions, validateInteger } from '../validate';

export interface ToReadableOptions {
  /** Items buffered ahead of the consumer (default 16). */
  highWaterMark?: number;
}

interface ReaderLike<T> {
  read(count?: number, options?: { block?: boolean; signal?: AbortSignal }): Promise<T[]>;
}

function highWaterMarkOf(options: unknown): number {
  const opts = optionsObject('options', options);
  rejectUnknownOptions('options', opts, ['highWaterMark']);
  const hwm = opts.highWaterMark ?? 16;
  validateInteger('options.highWaterMark', hwm, 1, 2 ** 31 - 1);
  return hwm;
}

/** One pull: ready items (up to `want`) or, when none, one awaited item; [] = end. */
async function pull<T>(reader: ReaderLike<T>, want: number, signal: AbortSignal): Promise<T[]> {
  const ready = await reader.read(Math.max(1, want), { block: false });
  if (ready.length > 0) return ready;
  return reader.read(1, { signal });
}

export function toReadable<T>(reader: ReaderLike<T>, options?: ToReadableOptions): Readable {
  const highWaterMark = highWaterMarkOf(options);
  const ac = new AbortController();
  let pulling = false;
  const stream = new Readable({
    objectMode: true,
    highWaterMark,
    read(size: number): void {
      if (pulling) return;
      pulling = true;
      pull(reader, size, ac.signal).then(
        (items) => {
          pulling = false;
          if (stream.destroyed) return;
          if (items.length === 0) {
            stream.push(null);
            return;
          }
          for (const item of items) {
            if (item === null) {
              stream.destroy(
                new ArgumentValueError(
                  'a channel item is null: a Node object-mode stream cannot carry null (use toReadableStream())',
                ),
              );
              return;
            }
            stream.push(item);
          }
        },
        (err: unknown) => {
          pulling = false;
          if (!stream.destroyed) stream.destroy(err as Error);
        },
      );
    },
    destroy(err, callback): void {
      ac.abort();
      callback(err);
    },
  });
  return stream;
}

export function toReadableStream<T>(reader: ReaderLike<T>, options?: ToReadableOptions): ReadableStream<T> {
  const highWaterMark = highWaterMarkOf(options);
  const ac = new AbortController();
  return new ReadableStream<T>(
    {
      async pull(controller): Promise<void> {
        const items = await pull(reader, controller.desiredSize ?? 1, ac.signal);
        if (items.length === 0) {
          controller.close();
          return;
        }
        for (const item of items) controller.enqueue(item);
      },
      cancel(): void {
        ac.abort();
      },
    },
    new CountQueuingStrategy({ highWaterMark }),
  );
}
