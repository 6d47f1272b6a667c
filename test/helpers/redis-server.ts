/**
 * A real `redis-server` for one test: a free local port, a private temporary directory, started
 * and stopped by the test (no shared server, no in-process fake).
 *
 * - Readiness is a handshake, never a sleep: the server's "Ready to accept connections" line,
 *   then a PING answered with +PONG on a raw socket.
 * - No persistence unless asked (`--save '' --appendonly no`); `{ persist: true }` turns on the
 *   append-only file with `appendfsync always`, so `restart()` (same port, same directory) keeps
 *   every acknowledged write - the fencing counters included.
 * - `t.teardown` stops the process and removes the directory, whatever the test did.
 * - Skip-free: if `redis-server` is missing the start rejects and the test FAILS (CI installs it:
 *   .ci/run). Set SHMSYNC_REDIS_SERVER to use another binary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Test } from 'tap';

export interface RedisServerOptions {
  /** Append-only file with fsync on every write: data survives `restart()`. Default false. */
  persist?: boolean;
  /** Extra `redis-server` arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
}

const kBinary = process.env.SHMSYNC_REDIS_SERVER ?? 'redis-server';

/** A port nobody listens on now (the kernel picks it; the server binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** One PING on a raw socket: resolves when the server answers +PONG. */
export function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    sock.setEncoding('utf8');
    sock.once('error', reject);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d: string) => {
      got += d;
      if (got.includes('\r\n')) {
        sock.destroy();
        if (got.startsWith('+PONG')) resolve();
        else reject(new Error(`redis-server answered PING with ${JSON.stringify(got)}`));
      }
    });
  });
}

export class RedisServer {
  readonly dir: string;
  readonly #options: RedisServerOptions;
  #port = 0;
  #proc: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  /** The server's stdout/stderr so far (for failure messages). */
  log = '';

  private constructor(dir: string, options: RedisServerOptions) {
    this.dir = dir;
    this.#options = options;
  }

  /** Starts a server for test `t`; stopped and its directory removed at `t`'s teardown. */
  static async start(t: Test, options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shmsync-redis-'));
    const server = new RedisServer(dir, options);
    t.teardown(() => server.stop());
    // A test process that exits without its teardown (process.exit, a fatal error) still takes
    // its server and directory along (a SIGKILL of the test process cannot be covered).
    const onExit = (): void => server.#kill();
    process.once('exit', onExit);
    t.teardown(() => process.removeListener('exit', onExit));
    // A port taken between freePort() and the bind is retried with another one.
    for (let attempt = 0; ; attempt++) {
      server.#port = await freePort();
      try {
        await server.#spawn();
        return server;
      } catch (err) {
        if (attempt >= 4 || !/Address already in use/.test(server.log)) throw err;
      }
    }
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /** The server process id (null while stopped). */
  get pid(): number | null {
    return this.#proc?.pid ?? null;
  }

  #spawn(): Promise<void> {
    const persist = this.#options.persist === true;
    const args = [
      '--port',
      String(this.#port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      persist ? 'yes' : 'no',
      ...(persist ? ['--appendfsync', 'always'] : []),
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--loglevel',
      'notice',
      ...(this.#options.args ?? []),
    ];
    this.log = ''; // this run's output only (a restart must not see the last run's "Ready")
    const proc = spawn(kBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#proc = proc;
    this.#exited = new Promise((resolve) => proc.once('close', () => resolve()));
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      let pinging = false;
      let done = false;
      // After "Ready", a server still loading its AOF answers -LOADING: ping again on its next
      // log line (it logs the end of the load), never on a timer.
      const tryPing = (): void => {
        pinging = true;
        ping(this.#port).then(
          () => {
            done = true;
            resolve();
          },
          (err: Error) => {
            pinging = false;
            if (!/LOADING/.test(err.message)) reject(err);
          },
        );
      };
      const onData = (d: Buffer): void => {
        this.log += d.toString('utf8');
        if (!ready && this.log.includes('Ready to accept connections')) ready = true;
        if (ready && !pinging && !done) tryPing();
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('error', (err) =>
        reject(new Error(`cannot run ${kBinary} (install the redis-server package): ${err.message}`)),
      );
      proc.once('exit', (code, signal) => {
        if (this.#proc === proc) this.#proc = null;
        if (!ready)
          reject(new Error(`${kBinary} exited (code ${code}, signal ${signal}) before it was ready:\n${this.log}`));
      });
    });
  }

  /**
   * Stops the server and starts it again on the same port with the same directory. `kill: true`
   * SIGKILLs it (a crash: only what was fsynced survives); otherwise SIGTERM (a clean shutdown).
   * Between the two, clients see connection errors: `between` runs while the server is down.
   */
  async restart(options: { kill?: boolean; between?: () => Promise<void> | void } = {}): Promise<void> {
    await this.#halt(options.kill === true ? 'SIGKILL' : 'SIGTERM');
    await options.between?.();
    await this.#spawn();
  }

  async #halt(signal: NodeJS.Signals): Promise<void> {
    const proc = this.#proc;
    if (proc === null) return;
    this.#proc = null;
    proc.kill(signal);
    await this.#exited;
  }

  /** Synchronous last resort at process exit. */
  #kill(): void {
    this.#proc?.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Stops the server (SIGKILL: a test server keeps nothing) and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    await this.#halt('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
