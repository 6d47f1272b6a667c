/** Runs the real `shmsync` binary (dist/cli/main.js) as a child process and collects its output. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

export const cliPath = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const base = { ...process.env };
  delete base.NO_COLOR; // colour only where a test asks for it (Node warns when both are set)
  delete base.FORCE_COLOR;
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `c` + 8 random hex digits: a fixed-length logical-name base unique to one test. */
export function cliBase(): string {
  return `c${randomBytes(4).toString('hex')}`;
}

export async function lsJson(pattern: string): Promise<any> {
  const r = await runCli(['ls', '--json', pattern]);
  if (r.code !== 0) throw new Error(`shmsync ls failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
