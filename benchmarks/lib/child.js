'use strict';
// Parent side of multi-process benchmarks: start a child script (benchmarks/children/*.js) as a
// process or a worker thread, wait for its named 'ready' handshake, call named commands in it,
// receive its data messages, and close it, checking it exited with code 0 and no signal.
//
//   const child = await forkChild('ipc-peer.js', { serialization: 'advanced' });
//   child.onData = (msg) => { ... };            // every non-control message from the child
//   const r = await child.call('produce', { n: 1000 });
//   await child.close();
//
// Control messages carry a `$bench` key and share the channel with data messages; the child
// side is lib/serve.js.
const { fork, spawn, execFileSync } = require('node:child_process');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const childrenDir = path.join(__dirname, '..', 'children');
let tasksetPath;

function resolveScript(script) {
  return path.isAbsolute(script) ? script : path.join(childrenDir, script);
}

function hasTaskset() {
  if (tasksetPath === undefined) {
    try {
      tasksetPath =
        execFileSync('sh', ['-c', 'command -v taskset'], { stdio: ['ignore', 'pipe', 'ignore'] })
          .toString()
          .trim() || null;
    } catch {
      tasksetPath = null;
    }
  }
  return tasksetPath;
}

class BenchChild {
  #transport;
  #calls = new Map();
  #nextId = 1;
  #exit = null;
  #exited;
  /** Called with every data (non-control) message the child sends. */
  onData = null;
  /** What the child sent with its 'ready' handshake ({ pid, ...info }). */
  info = null;

  constructor(transport, label) {
    this.#transport = transport;
    this.label = label;
    let ready;
    this.ready = new Promise((resolve, reject) => (ready = { resolve, reject }));
    this.#exited = new Promise((resolve) => {
      transport.onExit((code, signal) => {
        this.#exit = { code, signal };
        const err = new Error(`${label} exited (code ${code}, signal ${signal}) before answering`);
        ready.reject(err);
        for (const { reject } of this.#calls.values()) reject(err);
        this.#calls.clear();
        resolve(this.#exit);
      });
    });
    this.ready.catch(() => {}); // surfaced by start()
    transport.onMessage((msg) => {
      if (msg === null || typeof msg !== 'object' || msg.$bench === undefined) {
        if (this.onData !== null) this.onData(msg);
        return;
      }
      if (msg.$bench === 'ready') {
        this.info = msg.info;
        ready.resolve(this);
      } else if (msg.$bench === 'reply') {
        const call = this.#calls.get(msg.id);
        if (!call) return;
        this.#calls.delete(msg.id);
        if (msg.error)
          call.reject(Object.assign(new Error(`${this.label}: ${msg.error.message}`), { childStack: msg.error.stack }));
        else call.resolve(msg.result);
      }
    });
  }

  /** The underlying ChildProcess or Worker (for raw sends in a benchmark's hot loop). */
  get handle() {
    return this.#transport.handle;
  }

  /** Sends a data message to the child (its `onData`). Returns what the transport returns. */
  send(msg) {
    return this.#transport.send(msg);
  }

  /** Runs the child's command `cmd` with `params`; resolves with what it returned. */
  call(cmd, params = {}) {
    if (this.#exit) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#transport.send({ $bench: 'call', id, cmd, params });
    });
  }

  /** Asks the child to exit, then checks it exited cleanly (code 0, no signal). */
  async close({ timeoutMs = 5000 } = {}) {
    if (!this.#exit) {
      try {
        this.#transport.send({ $bench: 'exit' });
      } catch {}
      const timer = setTimeout(() => this.#transport.kill(), timeoutMs);
      await this.#exited;
      clearTimeout(timer);
    }
    const { code, signal } = this.#exit;
    if (code !== 0 || signal !== null) throw new Error(`${this.label} exited with code ${code}, signal ${signal}`);
  }

  /** Kills without asking (for crash benchmarks); resolves with { code, signal }. */
  kill(signal = 'SIGKILL') {
    if (!this.#exit) this.#transport.kill(signal);
    return this.#exited;
  }
}

async function started(child, timeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${child.label}: no 'ready' within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([child.ready, timeout]);
  } catch (err) {
    child.kill();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Forks `script` (a file in benchmarks/children/ or an absolute path) as a Node process with an
 * IPC channel. Options: args, execArgv, env, serialization ('json' | 'advanced'), cpu (pin the
 * child to this CPU with taskset when available), execPath (another Node binary), readyTimeoutMs.
 */
async function forkChild(script, opts = {}) {
  const file = resolveScript(script);
  const {
    args = [],
    execArgv = [],
    env = process.env,
    serialization = 'json',
    cpu,
    execPath = process.execPath,
    readyTimeoutMs = 30_000,
  } = opts;
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc'];
  const proc =
    cpu !== undefined && hasTaskset()
      ? spawn(hasTaskset(), ['-c', String(cpu), execPath, ...execArgv, file, ...args], {
          stdio,
          env,
          serialization,
        })
      : fork(file, args, { stdio, env, execArgv, serialization, execPath });
  const transport = {
    handle: proc,
    send: (m) => proc.send(m),
    onMessage: (fn) => proc.on('message', fn),
    onExit: (fn) => proc.once('exit', (code, signal) => fn(code, signal)),
    kill: (signal = 'SIGKILL') => proc.kill(signal),
  };
  proc.on('error', () => {}); // surfaces as 'exit' / a failed handshake
  return started(new BenchChild(transport, `${path.basename(file)}[${proc.pid}]`), readyTimeoutMs);
}

/** Starts `script` as a worker thread speaking the same protocol. Options: workerData, readyTimeoutMs. */
async function startWorker(script, opts = {}) {
  const file = resolveScript(script);
  const worker = new Worker(file, { workerData: opts.workerData, stdout: false, stderr: false });
  const transport = {
    handle: worker,
    send: (m) => worker.postMessage(m),
    onMessage: (fn) => worker.on('message', fn),
    onExit: (fn) => worker.once('exit', (code) => fn(code, null)),
    kill: () => worker.terminate(),
  };
  worker.on('error', (err) => console.error(`${path.basename(file)} (worker): ${err.stack ?? err}`));
  return started(
    new BenchChild(transport, `${path.basename(file)}[worker ${worker.threadId}]`),
    opts.readyTimeoutMs ?? 30_000,
  );
}

module.exports = { forkChild, startWorker, BenchChild, childrenDir };
