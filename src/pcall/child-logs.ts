/**
 * Captured child output (`log: 'capture'` / `logDir`), the port of pyATS's per-child TaskLog:
 * each child's stdout and stderr are collected (in memory, or in the file
 * `<logDir>/pcall-<index>-<pid>.log`, `t<threadId>` instead of the pid for threads) and, on
 * `join()`, appended to the parent's stdout one section per child, framed by
 * `>>>> Begin child log <name>` / `<<<< End child log <name>` lines. Runs in the parent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { Runner } from './child-runner';

function ended(stream: Readable | null): Promise<void> {
  if (stream === null || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', resolve);
    stream.once('end', resolve);
  });
}

/** The captured output of one child. */
export class ChildLog {
  /** Name in the frame lines: the log file path, or `pcall child <index> (pid|thread <id>)`. */
  readonly name: string;
  readonly #chunks: Buffer[] = [];
  readonly #file: string | undefined;
  readonly #done: Promise<void>;

  /** Starts collecting `runner`'s output (parent); `thread` says whether its pid is a thread id. */
  constructor(runner: Runner, index: number, logDir: string | undefined, thread = false) {
    const id = runner.pid === undefined ? 'none' : `${thread ? 't' : ''}${runner.pid}`;
    const streams = [runner.stdout, runner.stderr].filter((s): s is Readable => s !== null);
    if (logDir !== undefined) {
      fs.mkdirSync(logDir, { recursive: true });
      this.#file = path.resolve(logDir, `pcall-${index}-${id}.log`);
      this.name = this.#file;
      const out = fs.createWriteStream(this.#file);
      for (const s of streams) s.on('data', (chunk: Buffer) => out.write(chunk));
      this.#done = Promise.all(streams.map(ended)).then(() => new Promise<void>((resolve) => out.end(resolve)));
    } else {
      this.name = `pcall child ${index} (${thread ? 'thread' : 'pid'} ${runner.pid ?? 'none'})`;
      for (const s of streams) s.on('data', (chunk: Buffer) => this.#chunks.push(chunk));
      this.#done = Promise.all(streams.map(ended)).then(() => undefined);
    }
  }

  /** Resolves when the child's output streams have ended (and the file is written). */
  done(): Promise<void> {
    return this.#done;
  }

  /** The whole captured text (call after done()). */
  async text(): Promise<string> {
    if (this.#file !== undefined) return fs.promises.readFile(this.#file, 'utf8');
    return Buffer.concat(this.#chunks).toString('utf8');
  }

  /** The framed section appended to the parent's output on join. */
  async framed(): Promise<string> {
    let text = await this.text();
    if (text !== '' && !text.endsWith('\n')) text += '\n';
    return `>>>> Begin child log ${this.name}\n${text}<<<< End child log ${this.name}\n`;
  }
}

/** Appends every child's framed log to the parent's stdout, in call order (parent, on join). */
export async function appendChildLogs(logs: ReadonlyArray<ChildLog | undefined>): Promise<void> {
  await Promise.all(logs.map((log) => log?.done()));
  const sections = await Promise.all(logs.map((log) => log?.framed() ?? ''));
  const all = sections.join('');
  if (all !== '') await new Promise<void>((resolve) => process.stdout.write(all, () => resolve()));
}
