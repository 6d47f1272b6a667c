import t from 'tap';
import { SharedMemory } from '../dist';
import { forkReady } from './helpers/fork';
import { testName } from './helpers/shm';

t.test("two processes see each other's writes through .buffer", async (t) => {
  const shm = new SharedMemory(testName('xproc'), { size: 64, create: 'create' });
  t.teardown(() => {
    shm.close();
    shm.unlink();
  });
  const child = await forkReady('shm-writer.js', [shm.name]);
  child.send({ type: 'write', value: 201 });
  await child.message('written');
  t.equal(shm.buffer[0], 201, 'parent sees the child write');
  shm.buffer[1] = 77;
  child.send({ type: 'read' });
  const reply = await child.message<{ type: string; value: number }>('value');
  t.equal(reply.value, 77, 'child sees the parent write');
  t.same(await child.exited, { code: 0, signal: null });
});

t.test('an unnamed segment works in a child that receives the handle', async (t) => {
  const shm = new SharedMemory(undefined, { size: 16 });
  t.teardown(() => {
    shm.close();
    shm.unlink();
  });
  const ref = JSON.parse(JSON.stringify(shm)) as { name: string };
  const child = await forkReady('shm-writer.js', [ref.name]);
  child.send({ type: 'write', value: 9 });
  await child.message('written');
  t.equal(shm.buffer[0], 9);
  child.send({ type: 'read' });
  await child.message('value');
  t.same(await child.exited, { code: 0, signal: null });
});
