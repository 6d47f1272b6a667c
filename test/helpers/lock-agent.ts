/**
 * The parent side of test/fixtures/lock-backend-agent.js: a child process holding one lock on
 * either backend, driven by request/reply messages (used by the lock conformance suite and the
 * Redis fault tests).
 */
import type { Test } from 'tap';
import { Child } from './fork';

/** Forks the agent with `args` (its argv: backend, lock name, ...); SIGKILLed at t's teardown. */
export async function lockAgent(t: Test, args: string[]): Promise<Child> {
  const child = new Child('lock-backend-agent.js', args);
  t.teardown(() => child.kill('SIGKILL'));
  await child.message('ready');
  return child;
}

/** Sends request `type` and resolves with the agent's reply; an `error` in the reply rejects. */
export async function ask<T = Record<string, unknown>>(child: Child, type: string, extra: object = {}): Promise<T> {
  child.send({ type, ...extra });
  const reply = (await child.message(type)) as unknown as T & { error?: { message: string } };
  if (reply.error !== undefined) throw new Error(`agent ${type}: ${reply.error.message}`);
  return reply;
}
